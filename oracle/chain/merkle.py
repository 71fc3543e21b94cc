"""Merkle trees for anomaly batches, laid out exactly as OpenZeppelin's ``StandardMerkleTree``
(``@openzeppelin/merkle-tree``): leaves sorted by hash, a complete binary tree kept in one
array (node ``i`` has children ``2i+1`` and ``2i+2``), pairs hashed sorted as ``MerkleProof``
expects. Same leaves, same root and proofs as the JavaScript library (a test checks).
"""

from __future__ import annotations

from eth_utils import keccak

ZERO_ROOT = b"\x00" * 32


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A tree over 32-byte leaf hashes; ``proof(i)`` is for ``leaves[i]`` in the order given."""

    def __init__(self, leaves: list[bytes]) -> None:
        for i, leaf in enumerate(leaves):
            if not isinstance(leaf, bytes) or len(leaf) != 32:
                raise ValueError(f"leaf {i} is not 32 bytes")
        self.leaves = list(leaves)
        n = len(leaves)
        self._tree: list[bytes] = [b""] * max(2 * n - 1, 0)
        self._position = [0] * n  # leaves[i] sits at _tree[_position[i]]
        for rank, i in enumerate(sorted(range(n), key=lambda i: leaves[i])):
            self._position[i] = len(self._tree) - 1 - rank
            self._tree[self._position[i]] = leaves[i]
        for node in range(n - 2, -1, -1):
            self._tree[node] = _pair(self._tree[2 * node + 1], self._tree[2 * node + 2])

    @property
    def root(self) -> bytes:
        """The root; 32 zero bytes for an empty tree (which has no leaf to prove)."""
        return self._tree[0] if self._tree else ZERO_ROOT

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from ``leaves[index]`` up to the root."""
        if not 0 <= index < len(self.leaves):
            raise IndexError(f"leaf index {index} out of range 0..{len(self.leaves) - 1}")
        node, path = self._position[index], []
        while node > 0:
            path.append(self._tree[node + 1 if node % 2 else node - 1])
            node = (node - 1) // 2
        return path


def verify(leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """Recompute the root from ``leaf`` and ``proof``, as ``MerkleProof.verify`` does."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root

"""Merkle trees for anomaly batches: sorted-pair keccak, as OpenZeppelin's ``MerkleProof``."""

from __future__ import annotations

from eth_utils import keccak


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A tree over 32-byte leaves; an odd node at the end of a level is carried up unchanged."""

    def __init__(self, leaves: list[bytes]) -> None:
        for i, leaf in enumerate(leaves):
            if len(leaf) != 32:
                raise ValueError(f"leaf {i} is {len(leaf)} bytes, expected 32")
        self.leaves = list(leaves)
        self.levels: list[list[bytes]] = [self.leaves]
        while len(self.levels[-1]) > 1:
            level = self.levels[-1]
            parents = [_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                parents.append(level[-1])
            self.levels.append(parents)

    @property
    def root(self) -> bytes:
        """The root; 32 zero bytes for an empty tree."""
        return self.levels[-1][0] if self.leaves else b"\x00" * 32

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` up to the root."""
        if not 0 <= index < len(self.leaves):
            raise IndexError(f"leaf index {index} out of range 0..{len(self.leaves) - 1}")
        path = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def verify(leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """Recompute the root from ``leaf`` and ``proof``, as the contract does."""
    node = leaf
    for sibling in proof:
        node = _pair(node, sibling)
    return node == root

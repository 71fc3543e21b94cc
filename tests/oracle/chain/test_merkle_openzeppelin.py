"""oracle/chain/merkle.py against @openzeppelin/merkle-tree (npm, pinned): same leaves, same
root, same proof for every anomaly, and the contract builds the same leaf and accepts them."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chainkit import Batch, next_time, transact, view
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from oracle.chain.contracts import bind
from oracle.chain.encoding import LEAF_TYPES, AnomalyFields
from oracle.chain.merkle import MerkleTree

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("oz_merkle.js")
SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100]


def _random_fields(rng: random.Random, n: int) -> list[AnomalyFields]:
    made = [AnomalyFields(rng.randbytes(32), rng.randrange(1, 2**64), keccak(text=f"type {rng.randrange(8)}"),
                          rng.randint(1, 4), rng.randrange(-2**63, 2**63)) for _ in range(n)]
    if n > 2:
        made[-1] = made[0]  # a repeated anomaly: equal leaves must keep their order as OpenZeppelin does
    return made


def _openzeppelin(trees: list[tuple[int, list[AnomalyFields]]]) -> list[dict[str, Any]]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "@openzeppelin" / "merkle-tree").is_dir():
        pytest.fail("node or node_modules/@openzeppelin/merkle-tree missing: run `npm ci`")
    request = [{"types": list(LEAF_TYPES), "values": [[_js(v) for v in a.leaf_values(b)] for a in anomalies]}
               for b, anomalies in trees]
    result = subprocess.run(["node", str(SCRIPT)], cwd=ROOT, input=json.dumps(request), capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return list(json.loads(result.stdout))


def _js(value: Any) -> str:
    """A leaf value as the JavaScript library takes it: hex for bytes, decimal for integers."""
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def test_tree_matches_openzeppelin_standard_merkle_tree() -> None:
    rng = random.Random(15)
    trees = [(rng.randrange(1, 2**64), _random_fields(rng, n)) for n in SIZES]
    for (batch_id, anomalies), oz in zip(trees, _openzeppelin(trees), strict=True):
        leaves = [a.leaf(batch_id) for a in anomalies]
        tree = MerkleTree(leaves)
        assert ["0x" + leaf.hex() for leaf in leaves] == oz["leaves"]
        assert "0x" + tree.root.hex() == oz["root"], len(leaves)
        assert [["0x" + p.hex() for p in tree.proof(i)] for i in range(len(leaves))] == oz["proofs"]


def test_the_contract_accepts_openzeppelin_proofs(w3: Web3, deployed: dict[str, str],
                                                  oracle_key: LocalAccount) -> None:
    registry = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    now = next_time(w3)
    rng = random.Random(7)
    anomalies = [AnomalyFields(rng.randbytes(32), now - 100 - i, keccak(text="spike"), rng.randint(1, 4), i)
                 for i in range(11)]
    batch = Batch(now // 3600, anomalies)
    (oz,) = _openzeppelin([(batch.batch_id, anomalies)])
    transact(w3, batch.record(registry, now), oracle_key.address)
    assert "0x" + view(registry.functions.getBatch(batch.batch_id))[0].hex() == oz["root"]
    for a, leaf, proof in zip(anomalies, oz["leaves"], oz["proofs"], strict=True):
        assert "0x" + view(registry.functions.anomalyLeaf(batch.batch_id, a.as_struct())).hex() == leaf
        assert view(registry.functions.verifyAnomaly(batch.batch_id, a.as_struct(),
                                                     [bytes.fromhex(p[2:]) for p in proof])) is True

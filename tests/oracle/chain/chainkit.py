"""Helpers for the contract tests on py-evm: unlocked funded accounts, fast calls and
transactions, the next block's clock, contract deployment, and anomaly batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import REVERT_ERRORS, revert_reason
from oracle.chain.encoding import AnomalyFields, PriceReport, feed_id, sign_report, signature_blob, to_answer
from oracle.chain.merkle import MerkleTree

GAS = 3_000_000
INTERVAL = 3600  # conftest.FEED's interval_s


def next_time(w3: Web3) -> int:
    """The timestamp of the block the next transaction lands in."""
    return int(w3.eth.get_block("pending")["timestamp"])


def travel(w3: Web3, seconds: int) -> int:
    """Move the chain's clock: the next block is ``seconds`` later than it would have been."""
    if seconds <= 0:
        return next_time(w3)
    target = next_time(w3) + seconds
    w3.provider.ethereum_tester.time_travel(target)  # type: ignore[attr-defined]
    return target


def unlocked(w3: Web3, n: int = 1) -> list[LocalAccount]:
    """``n`` fresh keys that can send transactions (unlocked in eth-tester and funded)."""
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    accounts = [Account.create() for _ in range(n)]
    for account in accounts:
        tester.add_account(account.key.hex())
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": 10**20})
    return accounts


def _tester(fn: Any) -> Any:
    return fn.w3.provider.ethereum_tester


def _tx(fn: Any, sender: str) -> dict[str, Any]:
    return {"from": sender, "to": fn.address, "gas": GAS, "data": fn._encode_transaction_data()}


def outcome(fn: Any, sender: str) -> str | None:
    """The revert reason of ``fn`` sent by ``sender`` in the next block, or None if it succeeds.
    (eth-tester directly: a web3 round trip costs twice as much, and property tests make
    thousands of these.)"""
    try:
        _tester(fn).call(_tx(fn, sender), "pending")
    except REVERT_ERRORS as err:
        return revert_reason(err) or "reverted without a reason"
    return None


def view(fn: Any) -> Any:
    """``fn.call()`` through eth-tester, for views returning plain ABI types."""
    tester = _tester(fn)
    raw = tester.call({"from": tester.get_accounts()[0], "to": fn.address, "data": fn._encode_transaction_data()},
                      "latest")
    types = [o["type"] for o in fn.abi["outputs"]]
    values = [_checksummed(t, v) for t, v in zip(types, decode(types, HexBytes(raw)), strict=True)]
    return values[0] if len(values) == 1 else values


def _checksummed(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return Web3.to_checksum_address(value)
    if abi_type == "address[]":
        return [Web3.to_checksum_address(v) for v in value]
    return value


def transact(w3: Web3, fn: Any, sender: str) -> Any:
    """Send ``fn`` and return its receipt; it must succeed."""
    tester = _tester(fn)
    receipt = tester.get_transaction_receipt(tester.send_transaction(_tx(fn, sender)))
    assert receipt["status"] == 1, f"{fn.fn_name} reverted: {outcome(fn, sender)}"
    return w3.eth.get_transaction_receipt(receipt["transaction_hash"])


def attempt(w3: Web3, fn: Any, sender: str) -> str | None:
    """Send ``fn`` when it would succeed; return the revert reason when it would not (a reverted
    transaction changes no contract state, so skipping it is the same)."""
    reason = outcome(fn, sender)
    if reason is None:
        transact(w3, fn, sender)
    return reason


def deploy(w3: Web3, name: str, sender: str, *args: Any) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = factory.constructor(*args).transact({"from": sender, "gas": 8_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1, f"{name} constructor reverted"
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def feed_config(interval: int = INTERVAL, max_age: int = 3600) -> tuple[Any, ...]:
    """EnergyPriceOracle's Config: zone-1, 8 decimals, answers in [0.01, 2.0]."""
    return (feed_id("zone-1"), 8, "test feed", to_answer(0.01, 8), to_answer(2.0, 8), max_age, interval)


def report(round_id: int, observed_at: int, price: float = 0.12) -> PriceReport:
    return PriceReport(feed_id("zone-1"), round_id, to_answer(price, 8), observed_at, b"\x22" * 32)


def signed(w3: Web3, feed: Contract, rep: PriceReport, keys: list[LocalAccount]) -> Any:
    """``transmitSigned`` carrying EIP-712 signatures of ``rep`` by ``keys``."""
    blob = signature_blob([sign_report(k, rep, w3.eth.chain_id, feed.address) for k in keys])
    return feed.functions.transmitSigned(*rep.args(), blob)


@dataclass
class Batch:
    """Anomalies of one batch with their tree: what recordBatch and verifyAnomaly take."""

    batch_id: int
    anomalies: list[AnomalyFields]

    @property
    def tree(self) -> MerkleTree:
        return MerkleTree([a.leaf(self.batch_id) for a in self.anomalies])

    @property
    def max_severity(self) -> int:
        return max((a.severity for a in self.anomalies), default=0)

    def record(self, registry: Contract, detected_at: int, flags: list[Any] | None = None) -> Any:
        root = self.tree.root
        return registry.functions.recordBatch(self.batch_id, root, len(self.anomalies), self.max_severity,
                                              detected_at, flags or [], [])

    def flag(self, index: int) -> tuple[Any, list[bytes]]:
        """The flag of anomaly ``index``: its fields and proof."""
        return (self.anomalies[index].as_struct(), self.tree.proof(index))


def anomaly(meter: str, ts: int, kind: str = "consumption_spike", severity: int = 3,
            score_milli: int = 900) -> AnomalyFields:
    return AnomalyFields(Web3.keccak(text=meter), ts, Web3.keccak(text=kind), severity, score_milli)

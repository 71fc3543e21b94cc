"""Real parts for the transaction-manager tests and the chaos benchmark: a hardhat node read
directly (not through the fault proxy), the contracts deployed, reports of all three kinds,
a driver that ticks without ever restarting, and what actually landed on chain."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle.chain.contracts import FeedParams, deploy_all
from oracle.chain.encoding import PriceReport, feed_id, to_answer
from oracle.chain.provider import connect
from oracle.chain.summary import TickSummary
from oracle.chain.txmanager import TxManager
from oracle.config import ChainSettings
from oracle.store.outbox import Outbox

T0 = datetime(2024, 6, 1, tzinfo=UTC)
FEED = FeedParams("zone-1", "hardhat feed", 8, 0.01, 2.0, 3600)
KINDS = ("price", "anomaly", "optimization")


class Recorder:
    """Deployments kept in memory (the tests give the manager the addresses directly)."""

    def record_deployment(self, **_: Any) -> None:
        pass


@dataclass
class Node:
    """A hardhat node, spoken to directly: mining, snapshots, balances, the truth."""

    url: str
    w3: Web3 = field(init=False)

    def __post_init__(self) -> None:
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))

    def rpc(self, method: str, *params: Any) -> Any:
        reply = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def fund(self, address: str, wei: int) -> None:
        self.rpc("hardhat_setBalance", address, hex(wei))

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])


def deploy(node: Node, key: LocalAccount | None = None) -> tuple[LocalAccount, dict[str, str]]:
    """A funded key and the three contracts, deployed by it."""
    key = key or Account.create()
    node.fund(key.address, 10**21)
    return key, deploy_all(node.w3, key, Recorder(), FEED)


def manager(urls: list[str], engine: Engine, key: LocalAccount, deployed: dict[str, str],
            **settings: Any) -> TxManager:
    """A transaction manager on the RPC pool over ``urls``."""
    chain = ChainSettings(rpc_urls=urls, **{"confirmations": 2, "resend_after_blocks": 3,
                                            "finality_depth": 12, "tx_timeout_s": 5,
                                            **settings})
    w3 = connect(chain)
    return TxManager(w3, Outbox(engine, w3.eth.chain_id, key.address), key, chain,
                     contract_addresses=deployed)


@dataclass
class Reports:
    """Reports of the three kinds, each newer than the last, queued in order."""

    node: Node
    clock: Callable[[], int] | None = None  # block time for the reports; default the node's
    queued: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)  # calldata -> report id
    queued_at: dict[str, float] = field(default_factory=dict)
    _n: int = 0

    def queue(self, txm: TxManager, count: int, stamp: Callable[[], float] | None = None
              ) -> list[str]:
        """Queue ``count`` more; ``stamp`` records when (for queue-to-confirmed times)."""
        ids = []
        for _ in range(count):
            self._n += 1
            kind = KINDS[self._n % 3]
            rid = f"{kind}:{self._n}"
            contract, fn, args = self._call(kind, self._n)
            assert txm.queue(rid, kind, contract, fn, args, T0, {"n": self._n})
            report = txm.store.report(rid)
            assert report is not None
            self.data[report.payload["data"].lower()] = rid
            self.queued.append(rid)
            if stamp is not None:
                self.queued_at[rid] = stamp()
            ids.append(rid)
        return ids

    def _call(self, kind: str, n: int) -> tuple[str, str, list[Any]]:
        now = self.clock() if self.clock is not None else self.node.now()
        if kind == "price":
            report = PriceReport(feed_id("zone-1"), n, to_answer(0.2 + n / 1000, 8), now,
                                 Web3.keccak(text=f"curve {n}"))
            return "EnergyPriceOracle", "transmit", list(report.args())
        if kind == "anomaly":
            return "AnomalyRegistry", "recordBatch", [n, Web3.keccak(text=f"batch {n}"), 1, 2,
                                                      now, [], []]
        body = f"schedule {n}".encode()
        return "GridOptimizationRegistry", "commitSchedule", [
            1_700_000_000 + 3600 * n, Web3.keccak(body), 1000, 5000, 100, 2000, body]


def settled(txm: TxManager, ids: Iterable[str]) -> bool:
    return all(txm.status(rid) in ("confirmed", "failed") for rid in ids)


def drive(txm: TxManager, node: Node, ids: Iterable[str], *, ticks: int = 40,
          mine: bool = True) -> list[TickSummary]:
    """Tick (one block between ticks) until every report is settled; never restarts."""
    ids = list(ids)
    summaries = []
    for _ in range(ticks):
        summaries.append(txm.tick())
        if settled(txm, ids) and summaries[-1].deferred is None:
            return summaries
        if mine:
            node.mine()
    states = {rid: txm.status(rid) for rid in ids}
    raise AssertionError(f"not settled after {ticks} ticks: {states}; last: {summaries[-1]}")


def landed(node: Node, address: str, reports: Reports, from_block: int = 0) -> list[str]:
    """Report ids in the order their transactions succeeded on chain (repeats included)."""
    order = []
    for number in range(from_block, node.w3.eth.block_number + 1):
        block = node.w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if tx["from"] != address:
                continue
            rid = reports.data.get(tx["input"].to_0x_hex().lower())
            if rid is not None and node.w3.eth.get_transaction_receipt(tx["hash"])["status"] == 1:
                order.append(rid)
    return order


def assert_landed_once_in_order(txm: TxManager, node: Node, reports: Reports,
                                from_block: int) -> None:
    """Every queued report confirmed, on chain exactly once, in queue order; the stored
    next nonce is the chain's."""
    states = {rid: txm.status(rid) for rid in reports.queued}
    assert all(s == "confirmed" for s in states.values()), states
    order = landed(node, txm.account.address, reports, from_block)
    repeats = {rid: n for rid, n in Counter(order).items() if n > 1}
    assert not repeats, f"landed more than once: {repeats}"
    assert order == reports.queued, f"on chain {order}, queued {reports.queued}"
    assert txm.store.next_nonce() == node.w3.eth.get_transaction_count(txm.account.address)

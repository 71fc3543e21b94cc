"""Gas per report on the in-process py-evm chain (receipt gasUsed, steady state).

    .venv/bin/python benchmarks/gas.py [--quick]

Price rounds: 1 signer (quorum 1: the transmitter's transaction signature is the report's),
2-of-4 and 3-of-7 (the transmitter is one signer, the others sign EIP-712). Anomaly batches of
1, 100 and 1,000 anomalies (Merkle root only: flat). One schedule commitment.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from oracle.chain.contracts import FeedParams, bind, deploy_all, send
from oracle.chain.encoding import (
    PriceReport,
    anomaly_leaf,
    feed_id,
    schedule_bytes,
    sign_report,
    signature_blob,
    to_answer,
)
from oracle.chain.merkle import MerkleTree
from oracle.chain.provider import fund_from_dev_account
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

TARGETS = {"price, 1 signer": 56_000, "price, 2-of-4": 62_000, "price, 3-of-7": 68_000}
REFERENCE = {"price, 2-of-4": "OCR2 transmit 95,272", "price, 3-of-7": "OCR2 transmit 104,429",
             "price, 1 signer": "FluxAggregator 141,358"}


def _median_gas(rounds: int, make_call: Callable[[int], Any], w3: Web3,
                account: LocalAccount) -> int:
    """Median gasUsed over ``rounds`` after one warm-up call."""
    send(w3, account, make_call(0))
    return int(statistics.median(send(w3, account, make_call(i))["gasUsed"]
                                 for i in range(1, rounds + 1)))


def _price_rounds(w3: Web3, key: LocalAccount, feed: Contract, n: int, quorum: int,
                  rounds: int, start: int) -> int:
    others = [Account.create() for _ in range(n - 1)]
    send(w3, key, feed.functions.setSigners([key.address] + [o.address for o in others], quorum))

    def call(i: int) -> Any:
        now = int(w3.eth.get_block("latest")["timestamp"])
        report = PriceReport(feed_id("zone-1"), start + i, to_answer(0.1 + i / 1000, 8), now,
                             Web3.keccak(text=f"curve {i}"))
        if quorum == 1:
            return feed.functions.transmit(*report.args())
        sigs = [sign_report(o, report, w3.eth.chain_id, feed.address) for o in others[:quorum - 1]]
        return feed.functions.transmitSigned(*report.args(), signature_blob(sigs))

    return _median_gas(rounds, call, w3, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds per row")
    rounds = 3 if parser.parse_args().quick else 10
    w3 = Web3(EthereumTesterProvider())
    key = Account.create()
    fund_from_dev_account(w3, key.address, 10**21)
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/gas.db")
    upgrade(engine)
    deployed = deploy_all(w3, key, Deployments(engine),
                          FeedParams("zone-1", "bench", 8, 0.01, 2.0, 3600))
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    anomalies = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    grid = bind(w3, "GridOptimizationRegistry", deployed["GridOptimizationRegistry"])
    rows: list[tuple[str, int]] = []
    for label, n, q in (("price, 1 signer", 1, 1), ("price, 2-of-4", 4, 2),
                        ("price, 3-of-7", 7, 3)):
        rows.append((label, _price_rounds(w3, key, feed, n, q, rounds, 1 + 100 * len(rows))))
    batch_id = [0]
    for size in (1, 100, 1000):
        tree = MerkleTree([anomaly_leaf(f"m{i}", 1_700_000_000 + i, "spike", "high", 0.9)
                           for i in range(size)])

        def batch(_: int, tree: MerkleTree = tree, size: int = size) -> Any:
            batch_id[0] += 1
            now = int(w3.eth.get_block("latest")["timestamp"])
            return anomalies.functions.recordBatch(batch_id[0], tree.root, size, 3, now, [], [])

        rows.append((f"anomaly batch, {size:,} anomalies", _median_gas(rounds, batch, w3, key)))
    schedule = schedule_bytes({"interval": 0, "flows": [[0.5] * 4] * 24, "soc": [0.5] * 24})

    def commit(i: int) -> Any:
        return grid.functions.commitSchedule(1_700_000_000 + 3600 * i, Web3.keccak(schedule),
                                             120_000, 4_200, 800, 35_000, schedule)

    rows.append((f"schedule commitment ({len(schedule)} B in the log)",
                 _median_gas(rounds, commit, w3, key)))
    print(f"{'report':<42} {'gasUsed':>9} {'target':>9}  reference")
    for label, gas in rows:
        target = TARGETS.get(label)
        verdict = "" if target is None else ("ok" if gas <= target else "MISSED")
        shown = f"{target:,}" if target else "-"
        print(f"{label:<42} {gas:>9,} {shown:>9} {verdict:<6} {REFERENCE.get(label, '')}")


if __name__ == "__main__":
    main()

"""Gas per report on the in-process py-evm chain (receipt gasUsed, median of steady-state rounds).

    .venv/bin/python benchmarks/gas.py [--quick]

Price rounds: 1 signer (quorum 1: the transmitter's transaction signature is the report's), and
committees of 3f+1 with f+1 signatures (2-of-4, 3-of-7, 5-of-13, 11-of-31; the transmitter is
one signer, the others sign EIP-712). Each committee round is also measured on
EnergyPriceOraclePlainLoop, the same feed with its signature loop in plain Solidity, to show what
the loop's inline assembly saves. Anomaly batches of 1, 10 and 100 anomalies (a Merkle root:
flat), and 100 with one flag (its evidence proof); one schedule commitment; one settlement.
Each row is printed beside the figure committed in contracts/README.md and its goal.
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import send
from oracle.chain.encoding import (
    AnomalyFields,
    PriceReport,
    feed_id,
    meter_key,
    schedule_bytes,
    sign_report,
    signature_blob,
    to_answer,
)
from oracle.chain.merkle import MerkleTree
from oracle.chain.provider import fund_from_dev_account

README = Path(__file__).resolve().parents[1] / "contracts" / "README.md"
INTERVAL = 3600
COMMITTEES = [(1, 1), (4, 2), (7, 3), (13, 5), (31, 11)]
BATCH_SIZES = [1, 10, 100]
# label: (limit, comparison, what the limit is)
GOALS = {"price round, 1 signer": (56_000, "<=", "the goal"),
         "price round, 3-of-7": (104_429, "<", "Chainlink OCR2 transmit with 3 signatures"),
         "price round, 5-of-13": (81_025, "<", "Chronicle Scribe poke with bar 5")}
Call = Callable[[int], Any]


def _label(n: int, quorum: int) -> str:
    return "price round, 1 signer" if n == 1 else f"price round, {quorum}-of-{n}"


def committed_figures(readme: Path = README) -> dict[str, int]:
    """The gasUsed column of the table in contracts/README.md, by row label."""
    figures = {}
    for line in readme.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"[\d,]+", cells[1]):
            figures[cells[0]] = int(cells[1].replace(",", ""))
    return figures


class Bench:
    """One chain and one funded key; deploys contracts and measures calls."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.w3 = Web3(EthereumTesterProvider())
        self.key = Account.create()
        fund_from_dev_account(self.w3, self.key.address, 10**22)

    def now(self) -> int:
        return int(self.w3.eth.get_block("pending")["timestamp"])

    def deploy(self, name: str, *args: Any) -> Contract:
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = send(self.w3, self.key, factory.constructor(*args))
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)

    def median_gas(self, make_call: Call, sender: LocalAccount | None = None) -> int:
        """Median gasUsed over ``rounds`` calls after one warm-up call."""
        key = sender or self.key
        send(self.w3, key, make_call(0))
        return int(statistics.median(send(self.w3, key, make_call(i))["gasUsed"]
                                     for i in range(1, self.rounds + 1)))

    def price_round(self, contract: str, n: int, quorum: int) -> int:
        others = [Account.create() for _ in range(n - 1)]
        config = (feed_id("zone-1"), 8, "bench", to_answer(0.01, 8), to_answer(2.0, 8), 3600, INTERVAL)
        feed = self.deploy(contract, self.key.address, config, [self.key.address] + [o.address for o in others],
                           quorum, [self.key.address])
        first = self.now() // INTERVAL - self.rounds - 2  # one round per past interval, all within the bound

        def call(i: int) -> Any:
            report = PriceReport(feed_id("zone-1"), first + i, to_answer(0.1 + i / 1000, 8), self.now(),
                                 Web3.keccak(text=f"curve {i}"))
            if quorum == 1:
                return feed.functions.transmit(*report.args())
            sigs = [sign_report(o, report, self.w3.eth.chain_id, feed.address) for o in others[:quorum - 1]]
            return feed.functions.transmitSigned(*report.args(), signature_blob(sigs))

        return self.median_gas(call)

    def anomaly_batches(self, size: int, flags: int = 0) -> int:
        registry = self.deploy("AnomalyRegistry", self.key.address, [self.key.address], INTERVAL)
        first = self.now() // INTERVAL - self.rounds - 2

        def call(i: int) -> Any:
            now = self.now()
            anomalies = [AnomalyFields(meter_key(f"m{j}"), now - 600 - j, Web3.keccak(text="trading_fraud"), 3, j)
                         for j in range(size)]
            tree = MerkleTree([a.leaf(first + i) for a in anomalies])
            flagged = [(anomalies[j].as_struct(), tree.proof(j)) for j in range(flags)]
            return registry.functions.recordBatch(first + i, tree.root, size, 3, now, flagged, [])

        return self.median_gas(call)

    def schedule(self) -> tuple[int, int]:
        grid = self.deploy("GridOptimizationRegistry", self.key.address, [self.key.address], 86_400)
        body = schedule_bytes({"interval": 0, "flows": [[0.5] * 4] * 24, "soc": [0.5] * 24})
        start = self.now() // INTERVAL * INTERVAL - INTERVAL * (self.rounds + 2)

        def call(i: int) -> Any:
            return grid.functions.commitSchedule(start + INTERVAL * i, Web3.keccak(body), 120_000, 4_200, 800,
                                                 35_000, body)

        return self.median_gas(call), len(body)

    def settlement(self) -> int:
        buyer, seller = Account.create(), Account.create()
        fund_from_dev_account(self.w3, buyer.address, 10**20)
        me = self.key.address
        config = (feed_id("zone-1"), 8, "bench", to_answer(0.01, 8), to_answer(2.0, 8), 3600, INTERVAL)
        feed = self.deploy("EnergyPriceOracle", me, config, [me], 1, [me])
        flags = self.deploy("AnomalyRegistry", me, [me], INTERVAL)
        token = self.deploy("TestToken", "T", "T", 6, buyer.address, 10**15)
        desk = self.deploy("EnergySettlement", me, feed.address, flags.address, token.address, 3600, [me])
        send(self.w3, self.key, desk.functions.registerMeter(meter_key("b"), buyer.address))
        send(self.w3, self.key, desk.functions.registerMeter(meter_key("s"), seller.address))
        send(self.w3, buyer, token.functions.approve(desk.address, 10**15))
        send(self.w3, buyer, desk.functions.deposit(10**15))
        now = self.now()
        send(self.w3, self.key, feed.functions.transmit(now // INTERVAL, to_answer(0.25, 8), now, b"\x00" * 32))

        def call(i: int) -> Any:
            return desk.functions.settle(Web3.keccak(text=f"trade {i}"), meter_key("b"), meter_key("s"), 2_000)

        return self.median_gas(call)


def _verdict(label: str, gas: int) -> str:
    if label not in GOALS:
        return ""
    limit, comparison, what = GOALS[label]
    met = gas <= limit if comparison == "<=" else gas < limit
    return f"{'ok' if met else 'MISSED'} ({comparison} {limit:,}, {what})"


def _row(label: str, gas: int, committed: dict[str, int], note: str = "") -> str:
    was = committed.get(label)
    shown = f"{was:,}" if was is not None else "-"
    return f"{label:<40} {gas:>9,} {shown:>10}  {_verdict(label, gas)}{note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 measured rounds per row instead of 10")
    rounds = 3 if parser.parse_args().quick else 10
    bench = Bench(rounds)
    committed = committed_figures()
    print(f"gasUsed, median of {rounds} rounds after one warm-up, py-evm (cancun), solc 0.8.28 10,000 runs")
    print(f"{'report':<40} {'gasUsed':>9} {'committed':>10}  goal")
    plain_rows = []
    for n, quorum in COMMITTEES:
        gas = bench.price_round("EnergyPriceOracle", n, quorum)
        print(_row(_label(n, quorum), gas, committed), flush=True)
        if quorum > 1:
            plain = bench.price_round("EnergyPriceOraclePlainLoop", n, quorum)
            plain_rows.append((_label(n, quorum), quorum - 1, gas, plain))
    for size in BATCH_SIZES:
        label = f"anomaly batch, {size:,} {'anomaly' if size == 1 else 'anomalies'}"
        print(_row(label, bench.anomaly_batches(size), committed), flush=True)
    print(_row("anomaly batch, 100 anomalies, 1 flag", bench.anomaly_batches(100, flags=1), committed))
    gas, size = bench.schedule()
    print(_row("schedule commitment", gas, committed, f"  ({size} B schedule in the log)"))
    print(_row("settlement", bench.settlement(), committed, "  (2 kWh, ERC-20 paid out of escrow)"))
    print()
    print("signature loop: inline assembly (EnergyPriceOracle) vs plain Solidity (EnergyPriceOraclePlainLoop)")
    print(f"{'report':<40} {'assembly':>9} {'plain':>9} {'saved':>7} {'share':>6} {'per extra sig':>14}")
    for label, extra, gas, plain in plain_rows:
        print(f"{label:<40} {gas:>9,} {plain:>9,} {plain - gas:>7,} {(plain - gas) / plain:>6.1%} "
              f"{(plain - gas) / extra:>14,.0f}")


if __name__ == "__main__":
    main()

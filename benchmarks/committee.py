"""A committee of oracle daemons: gas per price round by committee size, and the time from an
interval's start to its report on chain.

Gas: ``transmitSigned`` with f+1 EIP-712 signatures of n signers, median of rounds on py-evm
(the same measurement as ``benchmarks/gas.py``), beside Chainlink OCR2's transmit (95,272 gas
with 1 signature and 104,429 with 3, measured on py-evm in this project's earlier benchmark)
and Chronicle Scribe's poke (81,025 gas with a bar of 5, published by Chronicle).

Latency: four in-process daemons (own SQLite file, key, transaction manager and API on a
loopback port each) on a ``hardhat node``, quorum 2, the daemon's real price stage at each
3-second interval's start (the harness of ``tests/integration/test_committee_hardhat.py``);
for each round, the time from the interval's start (when every member's price stage fires) to
the leader's audit entry ``committee.transmit`` (written once the report is mined: hardhat
mines each transaction at once, so this is proposal + signatures + one transaction).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from committee_harness import INTERVAL_S, on_chain, start_committee  # noqa: E402
from hardhat_process import hardhat_installed, hardhat_node  # noqa: E402

from benchmarks.gas import Bench  # noqa: E402

SIZES = [(4, 2), (7, 3), (13, 5), (31, 11)]
PEERS = {"Chainlink OCR2 transmit, 1 signature": 95_272,
         "Chainlink OCR2 transmit, 3 signatures": 104_429,
         "Chronicle Scribe poke, bar 5": 81_025}


def gas_table(rounds: int) -> None:
    bench = Bench(rounds)
    print(f"gas per price round (transmitSigned), median of {rounds} rounds, py-evm")
    print(f"  {'committee':<40}{'gasUsed':>9}")
    for n, quorum in SIZES:
        gas = bench.price_round("EnergyPriceOracle", n, quorum)
        print(f"  {f'SolChain {quorum}-of-{n} (f+1 of 3f+1)':<40}{gas:>9,}")
    for label, gas in PEERS.items():
        print(f"  {label:<40}{gas:>9,}")


def latency(rounds: int) -> None:
    if not hardhat_installed():
        print("latency: skipped (hardhat is not installed: run `make node`)")
        return
    with hardhat_node() as url, tempfile.TemporaryDirectory() as tmp:
        c = start_committee(url, Path(tmp))
        try:
            ids = c.upcoming_rounds(rounds, lead_in_s=2.0)
            c.run(ids)
            delays, missing = [], 0
            for r in ids:
                leader = c.leader(r)
                entries = [e for e in leader.audit("committee.transmit")
                           if e.ref == f"committee:zone-1:{r}"]
                if not entries or on_chain(c, r) is None:
                    missing += 1
                    continue
                ts = entries[0].ts if entries[0].ts.tzinfo else entries[0].ts.replace(tzinfo=UTC)
                delays.append(ts.timestamp() - r * INTERVAL_S)
        finally:
            c.close()
    print(f"\ninterval start -> report on chain, 4 daemons, quorum 2, hardhat, {rounds} rounds "
          f"of {INTERVAL_S} s")
    if delays:
        print(f"  published {len(delays)}/{rounds}; median {statistics.median(delays):.2f} s, "
              f"max {max(delays):.2f} s")
    if missing:
        print(f"  {missing} rounds not on chain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds per measurement")
    args = parser.parse_args()
    gas_table(args.rounds)
    latency(args.rounds)


if __name__ == "__main__":
    main()

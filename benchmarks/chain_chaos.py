"""The transaction manager under chaos: reports through a fault-injecting JSON-RPC proxy into a
hardhat node, with seeded random faults on 20% of all calls (dropped, delayed, error replies,
duplicated, replies lost after forwarding, error replies after forwarding).

    .venv/bin/python benchmarks/chain_chaos.py [--quick]

Everything is fixed here before the run and printed: the seed, the fault rate and kinds, the
number of reports, the settings. One TxManager runs throughout; a restart is counted (and
done) only if a tick raises something it should not. Prints reports landed, duplicates, lost
and restarts needed (goal 200/0/0/0), whether they landed in queue order, the longest time from
queue to confirmed, and gas per report by kind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

from chain_harness import Node, Reports, deploy, landed, manager, settled  # noqa: E402
from hardhat_process import hardhat_node  # noqa: E402
from rpc_proxy import ACTIONS, RpcProxy  # noqa: E402

from oracle.store.engine import make_engine  # noqa: E402
from oracle.store.migrate import upgrade  # noqa: E402

SEED = 20240601
FAULT_RATE = 0.20
PER_TICK = 3  # reports queued before each tick until all are queued (one of each kind)
SETTINGS: dict[str, Any] = {"confirmations": 2, "resend_after_blocks": 3, "finality_depth": 12,
                            "tx_timeout_s": 2, "rpc_retries": 2}
DELAY_S = 0.25  # a delayed call waits this long (below the timeout: slow, not lost)


def run(reports_total: int) -> dict[str, Any]:
    with hardhat_node() as url, RpcProxy(url) as proxy:
        node = Node(url)
        key, deployed = deploy(node)
        start_block = node.w3.eth.block_number + 1
        engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/chaos.db")
        upgrade(engine)
        txm = manager([proxy.url], engine, key, deployed, **SETTINGS)
        reports = Reports(node)
        proxy.chaos(FAULT_RATE, seed=SEED, actions=ACTIONS, delay_s=DELAY_S)
        confirmed_at: dict[str, float] = {}
        restarts = ticks = deferred = 0
        t0 = time.monotonic()
        while len(reports.queued) < reports_total or not settled(txm, reports.queued):
            if len(reports.queued) < reports_total:
                reports.queue(txm, min(PER_TICK, reports_total - len(reports.queued)),
                              stamp=time.monotonic)
            try:
                summary = txm.tick()
            except Exception as err:  # a tick must never need this
                print(f"restart after {type(err).__name__}: {err}")
                restarts += 1
                txm = manager([proxy.url], engine, key, deployed, **SETTINGS)
                continue
            ticks += 1
            deferred += summary.deferred is not None
            now = time.monotonic()
            for rid in reports.queued:
                if rid not in confirmed_at and txm.status(rid) == "confirmed":
                    confirmed_at[rid] = now
            node.mine()
            if ticks > 40 * reports_total:
                break
        elapsed = time.monotonic() - t0
        proxy.clear()
        order = landed(node, key.address, reports, start_block)
        gas = _gas(txm, reports)
        waits = [confirmed_at[r] - reports.queued_at[r] for r in confirmed_at]
        return {
            "queued": len(reports.queued), "landed": len(set(order)),
            "duplicates": len(order) - len(set(order)),
            "lost": len(set(reports.queued) - set(order)),
            "failed": sum(txm.status(r) == "failed" for r in reports.queued),
            "restarts": restarts, "in_order": order == reports.queued,
            "nonce_matches": txm.store.next_nonce() == node.w3.eth.get_transaction_count(
                key.address),
            "ticks": ticks, "deferred_ticks": deferred, "elapsed_s": elapsed,
            "longest_s": max(waits, default=float("nan")),
            "median_s": statistics.median(waits) if waits else float("nan"),
            "calls": sum(proxy.calls.values()), "faults": Counter(a for a, _ in proxy.injected.elements()),
            "gas": gas,
            "wasted_gas": sum(a.gas_used or 0 for r in reports.queued
                              for a in txm.store.attempts(report_id=r, statuses=["reverted"])),
        }


def _gas(txm: Any, reports: Reports) -> dict[str, int]:
    """Median gasUsed of the confirmed transaction, per report kind."""
    by_kind: dict[str, list[int]] = {}
    for rid in reports.queued:
        for attempt in txm.store.attempts(report_id=rid, statuses=["confirmed"]):
            by_kind.setdefault(rid.split(":")[0], []).append(attempt.gas_used or 0)
    return {kind: int(statistics.median(values)) for kind, values in sorted(by_kind.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 reports instead of 200")
    total = 40 if parser.parse_args().quick else 200
    print(f"seed {SEED}; faults on {FAULT_RATE:.0%} of calls, drawn from {', '.join(ACTIONS)} "
          f"(delay {DELAY_S} s); {total} reports ({PER_TICK} queued per tick: price, anomaly "
          f"batch, schedule); settings {SETTINGS}; hardhat automine, one block per tick")
    r = run(total)
    rows = [
        ("reports landed", f"{r['landed']} / {r['queued']}"),
        ("duplicates", r["duplicates"]), ("lost", r["lost"]), ("failed", r["failed"]),
        ("restarts needed", r["restarts"]), ("landed in queue order", r["in_order"]),
        ("stored nonce = chain's", r["nonce_matches"]),
        ("longest queue -> confirmed", f"{r['longest_s']:.1f} s (median {r['median_s']:.1f} s)"),
        ("gas per report (median)", ", ".join(f"{k} {v:,}" for k, v in r["gas"].items())),
        ("gas of reverted attempts", f"{r['wasted_gas']:,}"),
        ("ticks (stopped early by the RPC)", f"{r['ticks']} ({r['deferred_ticks']})"),
        ("RPC calls / faults injected", f"{r['calls']} / {sum(r['faults'].values())} "
                                        f"({', '.join(f'{k} {v}' for k, v in sorted(r['faults'].items()))})"),
        ("wall time", f"{r['elapsed_s']:.0f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()

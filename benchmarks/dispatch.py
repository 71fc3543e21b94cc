"""Dispatch build and solve time against grid size and horizon.

A synthetic radial feeder (binary tree of DC lines rated 3× the peak load they carry) with
batteries on a third of the nodes, PV on two thirds, flexible load on half and a time-of-use
tariff. Run: ``.venv/bin/python benchmarks/dispatch.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import pandas as pd

from models.optimization import Grid, GridConnection, optimize_dispatch

FULL = [(10, 24), (100, 24), (1000, 24), (100, 168)]
QUICK = [(10, 24), (100, 24), (100, 168)]


def feeder(n: int, hours: int, seed: int = 0) -> tuple[Grid, pd.DataFrame, pd.DataFrame,
                                                        pd.DataFrame]:
    """Grid, demand, PV and prices for ``n`` nodes over ``hours`` hours."""
    rng = np.random.default_rng(seed)
    ids = [f"n{i}" for i in range(n)]
    size = rng.uniform(0.5, 2.0, n)
    carried = size.copy()
    for i in range(n - 1, 0, -1):
        carried[(i - 1) // 2] += carried[i]
    nodes = pd.DataFrame({"storage_kwh": rng.choice([0.0, 10.0, 13.5], n), "storage_kw": 5.0,
                          "dr_shift_kw": rng.choice([0.0, 1.0], n), "dr_window_h": 3,
                          "dr_curtail_kw": 0.5, "dr_curtail_cost": 0.5}, index=ids)
    lines = pd.DataFrame({"from": [ids[(i - 1) // 2] for i in range(1, n)], "to": ids[1:],
                          "capacity_kw": 3.0 * carried[1:], "reactance": 0.01})
    h = np.arange(hours) % 24
    evening = ((h >= 17) & (h <= 21)).astype(float)
    shape = 1 + 0.5 * np.sin((h - 8) / 24 * 2 * np.pi) + evening
    index = pd.date_range("2024-06-03", periods=hours, freq="h", tz="UTC")
    demand = pd.DataFrame(np.outer(shape, size), index=index, columns=ids)
    sun = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None)
    pv = pd.DataFrame(np.outer(sun, rng.choice([0.0, 3.0, 5.0], n)), index=index, columns=ids)
    prices = pd.DataFrame({"import": 0.2 + 0.15 * evening, "export": 0.05}, index=index)
    grid = Grid(nodes=nodes, lines=lines,
                connection=GridConnection(node="n0", import_price=0.25, export_price=0.05,
                                          carbon_g_per_kwh=300.0))
    return grid, demand, pv, prices


def run(cases: list[tuple[int, int]], repeats: int) -> list[dict[str, float]]:
    """Best-of-``repeats`` build and solve seconds per case (wall clock), with the process CPU
    seconds of that run (the machine is shared: CPU time is what the load does not inflate)."""
    rows = []
    for n, hours in cases:
        grid, demand, pv, prices = feeder(n, hours)
        best: dict[str, float] = {}
        for _ in range(repeats):
            start, cpu = time.perf_counter(), time.process_time()
            d = optimize_dispatch(grid, demand, pv, prices, horizon=hours)
            total = time.perf_counter() - start
            if not best or total < best["total"]:
                best = {"build": d.build_seconds, "solve": d.solve_seconds, "total": total,
                        "cpu": time.process_time() - cpu, "peak_cut": d.peak_reduction_pct}
        rows.append({"nodes": n, "hours": hours, **best})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller run, one repeat")
    args = parser.parse_args()
    rows = run(QUICK if args.quick else FULL, repeats=1 if args.quick else 2)
    print(f"{'nodes':>6} {'hours':>6} {'build s':>9} {'solve s':>9} {'total s':>9} "
          f"{'cpu s':>7} {'growth':>7} {'peak cut %':>10}")
    for i, row in enumerate(rows):
        size = row["nodes"] * row["hours"]
        smaller = [r for r in rows[:i] if r["nodes"] * r["hours"] < size]
        growth = ""
        if smaller:  # exponent k in time ∝ size^k, against the largest smaller run above
            base = max(smaller, key=lambda r: r["nodes"] * r["hours"])
            ratio = size / (base["nodes"] * base["hours"])
            growth = f"{math.log(row['cpu'] / base['cpu']) / math.log(ratio):.2f}"
        print(f"{row['nodes']:>6} {row['hours']:>6} {row['build']:>9.3f} {row['solve']:>9.3f} "
              f"{row['total']:>9.3f} {row['cpu']:>7.3f} {growth:>7} {row['peak_cut']:>10.1f}")
    print("build = inputs + cvxpy model; solve = cvxpy compile + solver; total = wall clock of "
          "the call; cpu = its process CPU time; growth = d log cpu / d log (nodes × hours) "
          "against the largest smaller run above; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()

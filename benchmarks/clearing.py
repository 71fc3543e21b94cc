"""Market clearing speed: `clear_market` (sort + sweep) against the welfare LP (cvxpy/HiGHS).

Random books of n orders (half bids, half offers; 0.1-10 kWh; limits on a 0.001 grid in
[0.05, 0.50]; timestamps within 15 minutes; string ids). The LP maximises welfare subject to
balance and order sizes; its welfare must equal the clearing's total surplus (checked).
Growth = time(n) / time(n / 10); n log n predicts about 11-13 per decade.

    .venv/bin/python benchmarks/clearing.py [--quick] [--lp-max N] [--repeat R]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.pricing import clear_market


def make_book(n: int, prefix: str, rng: np.random.Generator) -> pd.DataFrame:
    """n random orders for one side of the market."""
    return pd.DataFrame({
        "order_id": [f"{prefix}{i}" for i in range(n)],
        "quantity_kwh": rng.uniform(0.1, 10.0, n).round(3),
        "limit_price": rng.uniform(0.05, 0.50, n).round(3),
        "ts": pd.Timestamp("2024-06-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 900, n), unit="s"),
    })


@contextlib.contextmanager
def quiet_stdout():  # type: ignore[no-untyped-def]
    """Silence the solver's banner, which HiGHS writes to file descriptor 1."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def solve_lp(bids: pd.DataFrame, offers: pd.DataFrame) -> tuple[float, float, float]:
    """(welfare, build seconds, solve seconds) of the welfare-maximising LP."""
    start = time.perf_counter()
    x, y = cp.Variable(len(bids), nonneg=True), cp.Variable(len(offers), nonneg=True)
    welfare = bids["limit_price"].to_numpy() @ x - offers["limit_price"].to_numpy() @ y
    problem = cp.Problem(cp.Maximize(welfare), [
        x <= bids["quantity_kwh"].to_numpy(), y <= offers["quantity_kwh"].to_numpy(),
        cp.sum(x) == cp.sum(y)])
    problem.get_problem_data(cp.HIGHS)  # canonicalisation, timed apart from the solve
    built = time.perf_counter()
    with quiet_stdout():
        value = problem.solve(solver=cp.HIGHS)
    return float(value), built - start, time.perf_counter() - built


def time_clearing(bids: pd.DataFrame, offers: pd.DataFrame, repeat: int) -> tuple[float, object]:
    """Best-of-``repeat`` wall time of one uniform clearing."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = clear_market(bids, offers)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k, 10k, 100k orders only")
    parser.add_argument("--lp-max", type=int, default=None,
                        help="largest book to solve as an LP (default 100k, quick 10k)")
    parser.add_argument("--repeat", type=int, default=3, help="clearing runs per size (best)")
    args = parser.parse_args()
    sizes = [1_000, 10_000, 100_000] + ([] if args.quick else [1_000_000])
    lp_max = args.lp_max or (10_000 if args.quick else 100_000)
    rng = np.random.default_rng(20240601)
    header = (f"{'orders':>9} {'clear s':>9} {'growth':>7} {'matches':>8} {'volume kWh':>12} "
              f"{'LP build s':>10} {'LP solve s':>10} {'LP growth':>9} {'welfare diff':>12}")
    print(header)
    print("-" * len(header))
    last_clear = last_lp = None
    for n in sizes:
        bids, offers = make_book(n // 2, "b", rng), make_book(n - n // 2, "o", rng)
        seconds, result = time_clearing(bids, offers, args.repeat if n < 1_000_000 else 1)
        growth = f"{seconds / last_clear:7.1f}" if last_clear else f"{'':>7}"
        last_clear = seconds
        row = (f"{n:>9,} {seconds:>9.4f} {growth} {len(result.matches):>8,} "
               f"{result.volume:>12,.1f}")
        if n <= lp_max:
            welfare, build, solve = solve_lp(bids, offers)
            lp_growth = f"{solve / last_lp:9.1f}" if last_lp else f"{'':>9}"
            last_lp = solve
            diff = abs(welfare - result.total_surplus) / max(1.0, abs(welfare))
            row += f" {build:>10.3f} {solve:>10.3f} {lp_growth} {diff:>12.1e}"
        else:
            row += f" {'skipped (n > ' + format(lp_max, ',') + ')':>44}"
        print(row, flush=True)
    print("\nclear s: best of", args.repeat, "runs (1M: one run), validation + sort + sweep + "
          "result frames; LP: cvxpy canonicalisation (build) and HiGHS solve, one run.")


if __name__ == "__main__":
    main()

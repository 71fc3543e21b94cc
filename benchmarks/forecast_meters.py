"""Per-meter day-ahead forecasts for the demo's meters: one global model vs each meter's naive.

Data: the reference backend's replay (``oracle.simulator.replay.build_replay``, as the demo uses
it): 1,000 meters, 4 weeks of hourly consumption (the real Taylor demand curve, shaped and
scaled per household, with noise). Protocol, fixed here before any run: **test** origins are the
community's last ``TEST_DAYS`` midnights (local, 05:00 UTC), **validation** origins the
``VALIDATION_DAYS`` before them (nothing was tuned: the gradient-boosted model runs with its
defaults and two inner backtest origins). At each origin ``models.forecasting.meters`` fits the
global model on all meters' history, forecasts 24 hours per meter with per-meter 80/95 %
intervals, and the zone as the meters' sum. MASE per meter: the MAE over that meter's in-sample
lag-one-day naive MAE; the table gives the mean and median over meters. Peers: each meter's
seasonal naive (day and week). Time: seconds per origin for all meters (3 global fits: two inner
backtest origins and the final one), wall clock and CPU (the machine is shared), scaled to
1,000 meters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from models.forecasting.meters import forecast_meters
from oracle.simulator.replay import build_replay

METERS, WEEKS, H = 1000, 4, 24
TEST_DAYS, VALIDATION_DAYS = 3, 3


def readings(meters: int) -> pd.DataFrame:
    """The replay's hourly consumption as a wide frame (ts x meter_id)."""
    replay = build_replay(meters=meters, weeks=WEEKS, seed=0)
    index = pd.date_range(replay.start, periods=replay.hours, freq="1h", name="ts")
    return pd.DataFrame(replay.consumption.T, index=index,
                        columns=[m["meter_id"] for m in replay.meters])


def windows(n: int, quick: bool) -> tuple[list[int], list[int]]:
    test = [n - H * k for k in range(TEST_DAYS, 0, -1)]
    validation = [test[0] - H * k for k in range(VALIDATION_DAYS, 0, -1)]
    return (validation[-1:], test[-1:]) if quick else (validation, test)


def per_meter_scores(actual: np.ndarray, pred: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """MASE per meter; arrays are (horizon, meters)."""
    return np.abs(actual - pred).mean(axis=0) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 meters, one origin")
    parser.add_argument("--validate", action="store_true", help="score on validation windows")
    args = parser.parse_args()
    meters = 200 if args.quick else METERS
    data = readings(meters)
    validation, test = windows(len(data), args.quick)
    print(f"{meters} replay meters, hourly {data.index[0]} .. {data.index[-1]}; day-ahead")
    print(f"validation origins: {[str(data.index[o]) for o in validation]}")
    print(f"test origins:       {[str(data.index[o]) for o in test]}")
    origins = validation if args.validate else test
    print(f"scoring on {'VALIDATION' if args.validate else 'TEST'} origins\n")
    rows: dict[str, list[np.ndarray]] = {"global gbm": [], "seasonal naive (day)": [],
                                         "seasonal naive (week)": []}
    cover: dict[int, list[np.ndarray]] = {80: [], 95: []}
    zone_rows: dict[str, list[float]] = {"bottom-up sum": [], "zone naive (day)": [],
                                         "cov95": [], "cov80": []}
    seconds, cpu = [], []
    for origin in origins:
        train, actual = data.iloc[:origin], data.iloc[origin:origin + H]
        a = actual.to_numpy()
        past = train.to_numpy()
        scale = np.abs(past[24:] - past[:-24]).mean(axis=0)
        t0, c0 = time.perf_counter(), time.process_time()
        result = forecast_meters(train, H)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        wide = {c: result.meters.pivot(index="ts", columns="meter_id", values=c)[data.columns]
                for c in ("mean", "lo_80", "hi_80", "lo_95", "hi_95")}
        rows["global gbm"].append(per_meter_scores(a, wide["mean"].to_numpy(), scale))
        rows["seasonal naive (day)"].append(per_meter_scores(a, past[-24:], scale))
        rows["seasonal naive (week)"].append(per_meter_scores(a, past[-168:-144], scale))
        for level in cover:
            lo, hi = wide[f"lo_{level}"].to_numpy(), wide[f"hi_{level}"].to_numpy()
            cover[level].append(((a >= lo) & (a <= hi)).mean(axis=0))
        zone_actual, zone_past = a.sum(axis=1), past.sum(axis=1)
        zone_scale = np.abs(zone_past[24:] - zone_past[:-24]).mean()
        zone_rows["bottom-up sum"].append(
            float(np.abs(zone_actual - result.zone["mean"].to_numpy()).mean() / zone_scale))
        zone_rows["zone naive (day)"].append(
            float(np.abs(zone_actual - zone_past[-24:]).mean() / zone_scale))
        for level in (80, 95):
            inside = ((zone_actual >= result.zone[f"lo_{level}"].to_numpy())
                      & (zone_actual <= result.zone[f"hi_{level}"].to_numpy()))
            zone_rows[f"cov{level}"].append(float(inside.mean()))
        print(f"origin {data.index[origin]}: {seconds[-1]:.1f} s ({cpu[-1]:.1f} s CPU) for "
              f"{meters} meters", flush=True)
    header = f"{'per meter':24s} {'mean MASE':>9s} {'median':>7s} {'cov80':>6s} {'cov95':>6s}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, values in rows.items():
        per_meter = np.mean(values, axis=0)
        cov80 = f"{np.mean(cover[80]):6.3f}" if name == "global gbm" else f"{'':6s}"
        cov95 = f"{np.mean(cover[95]):6.3f}" if name == "global gbm" else f"{'':6s}"
        print(f"{name:24s} {per_meter.mean():9.4f} {np.median(per_meter):7.4f} {cov80} {cov95}")
    print(f"\nzone (sum of meters): bottom-up MASE {np.mean(zone_rows['bottom-up sum']):.4f}, "
          f"zone naive (day) {np.mean(zone_rows['zone naive (day)']):.4f}; zone intervals "
          f"cover {np.mean(zone_rows['cov80']):.3f} / {np.mean(zone_rows['cov95']):.3f} (80/95)")
    scale = 1000 / meters
    print(f"time per origin for {meters} meters: {np.mean(seconds):.1f} s wall, "
          f"{np.mean(cpu):.1f} s CPU; per 1,000 meters {scale * np.mean(seconds):.1f} s wall, "
          f"{scale * np.mean(cpu):.1f} s CPU (3 global fits + forecasts; one thread)")


if __name__ == "__main__":
    main()

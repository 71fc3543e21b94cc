"""Anomaly benchmark: injected anomalies on real load (Taylor) + real irradiance (TMY3), and
planted wash-trade rings on synthetic order books. THE LABELS ARE INJECTED (models.anomaly.inject).

Scoring is point-level (one unit = one reading): per kind, TP needs the right kind predicted
(our reason -> kind); PyOD detectors only flag, so their per-kind score is detection only (recall
and precision against clean points), which favours them. Event recall is shown alongside.

    .venv/bin/python benchmarks/anomaly.py [--quick] [--seed N]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
import pmdarima
import pvlib

from models.anomaly import AnomalyDetector
from models.anomaly.books import synthetic_books
from models.anomaly.fraud import wash_rings
from models.anomaly.inject import inject_anomalies, meters_from_load
from models.anomaly.points import FEATURES
from models.metrics.detection import align, binary_scores, detection_report, event_recall

KIND_OF_REASON = {"high_consumption": "spike", "low_consumption": "drop",
                  "flat_line": "flat_line", "zeroed": "zeroing", "scale_change": "scale_change",
                  "reversed": "reversed", "pv_yield_loss": "pv_yield_loss",
                  "pv_persistent_loss": "pv_failure", "coordinated": "coordinated",
                  "impossible_value": "impossible", "duplicate": "duplicate",
                  "timestamp_gap": "gap", "missing_value": "impossible"}
GOAL = {"spike": 0.9, "drop": 0.9, "flat_line": 0.9, "zeroing": 0.9, "overall": 0.8}


def irradiance(weeks: int) -> np.ndarray:
    """TMY3 GHI (Greensboro, NC) from 5 June, hourly -> half-hourly by linear interpolation."""
    path = os.path.join(os.path.dirname(pvlib.__file__), "data", "723170TYA.CSV")
    tmy, _ = pvlib.iotools.read_tmy3(path, coerce_year=2000, map_variables=True)
    ghi = tmy["ghi"].tz_localize(None) if tmy.index.tz is not None else tmy["ghi"]
    n = weeks * 7 * 48
    g = ghi["2000-06-05":].iloc[: n // 2 + 1].resample("30min").interpolate().to_numpy()
    return np.r_[g, np.repeat(g[-1:], n)][:n]


def pyod_flags(name: str, train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """PyOD detector (contamination 0.05) fitted on history features, applied to test."""
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    model = IForest(contamination=0.05, random_state=0) if name == "IForest" \
        else ECOD(contamination=0.05)
    model.fit(train[list(FEATURES)].to_numpy())
    x = test[list(FEATURES)].to_numpy()
    return model.predict(x).astype(bool), model.decision_function(x)


def reading_table(n_meters: int, seed: int) -> None:
    weeks, hist_weeks = 6, 4
    frame = meters_from_load(pmdarima.datasets.load_taylor(), n_meters=n_meters, weeks=weeks,
                             irradiance=irradiance(weeks), seed=seed)
    since = frame["ts"].min() + pd.Timedelta(weeks=hist_weeks)
    history, test = frame[frame["ts"] < since], frame[frame["ts"] >= since]
    injected, labels = inject_anomalies(test, since=since, seed=seed + 1)
    t0 = time.perf_counter()
    det = AnomalyDetector(random_state=seed).fit(history)
    pts = det.score_points(injected)
    found = det.detect(injected)
    secs = time.perf_counter() - t0
    found["kind"] = found["reason"].map(KIND_OF_REASON)
    ours = detection_report(align(pts, labels, found, label="kind", predicted="kind"))
    typed = detection_report(align(pts, labels, found))
    hist_feats = det._features(history.assign(
        ts=pd.to_datetime(history["ts"], utc=True)).sort_values(["meter_id", "ts"]))
    usable = pts[pts["corruption"] != "duplicate"]
    rows = {}
    for name in ("IForest", "ECOD"):
        flag, score = pyod_flags(name, hist_feats, usable)
        pred = usable.loc[flag, ["meter_id", "ts"]].assign(kind="anomaly")
        al = align(pts, labels, pred.assign(score=score[flag]), label="kind", predicted="kind")
        rows[name] = (al, binary_scores(al["truth"] != "", al["pred"] != ""))
    ev = event_recall(labels, found)
    print(f"\nReadings: {n_meters} meters x {weeks} weeks of Taylor load ({hist_weeks} history, "
          f"{weeks - hist_weeks} test), seed {seed}; {len(labels)} injected points; "
          f"ours {secs:.1f} s")
    print(f"{'kind':<14}{'n':>6}{'P':>7}{'R':>7}{'F1':>7}{'PR-AUC':>8}{'ev.R':>7} | "
          f"{'IForest R':>10}{'F1*':>6} | {'ECOD R':>7}{'F1*':>6}   goal")
    for kind in [*sorted(labels["kind"].unique()), "overall"]:
        r = ours.loc[kind]
        pyod = []
        for name in ("IForest", "ECOD"):
            al, overall = rows[name]
            t = al["truth"].to_numpy()
            keep = (t == kind) | (t == "") if kind != "overall" else np.ones(len(t), bool)
            b = binary_scores(t[keep] != "", al["pred"].to_numpy()[keep] != "") \
                if kind != "overall" else overall
            pyod.append(f"{b['recall']:>10.3f}{b['f1']:>6.3f}")
        goal = GOAL.get(kind)
        mark = "" if goal is None else (f">= {goal} ok" if r["f1"] >= goal else f">= {goal} MISS")
        print(f"{kind:<14}{int(r['support']):>6}{r['precision']:>7.3f}{r['recall']:>7.3f}"
              f"{r['f1']:>7.3f}{r['pr_auc']:>8.3f}{ev.get(kind, np.nan):>7.2f} | "
              f"{pyod[0]} | {pyod[1][3:]}   {mark}")
    print("typed (8 classes): " + ", ".join(
        f"{k} F1 {typed.loc[k, 'f1']:.3f}" for k in typed.index if k not in ("overall",)))
    print("F1* for PyOD = detection F1 on clean + that kind's points (no typing needed).")


def ring_table(n_books: int, seed: int) -> None:
    planted = found = false = 0
    clean_false = 0
    t0 = time.perf_counter()
    for i in range(n_books):
        books = synthetic_books(seed=seed + i)
        rings = wash_rings(books.trades)
        planted += len(books.rings)
        found += sum(any(r == p for r in rings) for p in books.rings)
        false += sum(all(r != p for p in books.rings) for r in rings)
        clean_false += len(wash_rings(synthetic_books(seed=seed + 1000 + i, n_rings=0).trades))
    print(f"\nWash-trade rings on {n_books} books (+{n_books} clean books), "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"planted {planted}  found exactly {found}  false rings {false}  "
          f"false rings on clean books {clean_false}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer meters and books")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reading_table(12 if args.quick else 40, args.seed)
    ring_table(2 if args.quick else 8, args.seed)


if __name__ == "__main__":
    main()

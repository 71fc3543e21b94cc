"""Day-ahead demand forecast on Taylor's England & Wales half-hourly demand (2000).

Real data: ``pmdarima.datasets.load_taylor()``, 4,032 half-hours from Monday 2000-06-05 00:00
(timestamps are rebuilt; the array has none).

Protocol: 48-step (day-ahead) forecasts from 28 origins at midnight over the last 4 weeks
(``--quick``: the last 7), expanding window, every model refitted at every origin. MASE is
the forecast MAE over the in-sample MAE of the lag-one-day (48) naive forecast at that origin,
averaged over origins; MAPE likewise. Peers fitted in the same run: seasonal naive (day, week),
statsforecast ``MSTL(season_length=[48, 336], trend_forecaster=AutoETS())`` and, when the
``prophet`` extra is installed, Prophet with its defaults.
Goal: ``auto`` at least 10 % below the best peer's MASE; its 95 % intervals cover 93-97 %.
Single models are fitted directly (no inner backtest, so no intervals); ``auto`` runs the full
``Forecaster``: inner backtest, stacked weights, conformal intervals. Our models are told where
the demand is (``TAYLOR_SITE``, central England, clock time Europe/London): the daylight-aware
variants (``*_daylight``) use it, and ``auto`` adds them to its candidates.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from models.forecasting import Forecaster
from models.forecasting.daylight import Site
from models.forecasting.decomposition import clear_cache
from models.forecasting.forecaster import DAYLIGHT_CANDIDATES, DEFAULT_CANDIDATES
from models.forecasting.registry import make_model
from models.metrics import forecast as fm

H = 48
# England and Wales: a point near its centre of population; the timestamps are UK clock time
TAYLOR_SITE = Site(latitude=52.5, longitude=-1.5, timezone="Europe/London")
Predict = Callable[[], tuple[np.ndarray, pd.DataFrame | None]]
Runner = Callable[[pd.Series], Predict]


def taylor() -> pd.Series:
    """Taylor's demand with the half-hourly timestamps it was recorded at."""
    from pmdarima.datasets import load_taylor

    values = np.asarray(load_taylor(), dtype="float64")
    index = pd.date_range("2000-06-05 00:00", periods=len(values), freq="30min", name="ts")
    return pd.Series(values, index=index, name="demand_mw")


def point(name: str, **params: object) -> Runner:
    """A registry point model: fit at one origin, then predict H steps."""
    def fit(train: pd.Series) -> Predict:
        model = make_model(name, **params).fit(train)
        return lambda: (model.predict(H), None)
    return fit


def forecaster(model: str, **params: object) -> Runner:
    """The Forecaster facade (inner backtest, model choice, conformal intervals)."""
    def fit(train: pd.Series) -> Predict:
        fitted = Forecaster(model=model, horizon=H, **params).fit(train)

        def predict() -> tuple[np.ndarray, pd.DataFrame]:
            frame = fitted.predict(H)
            return frame["mean"].to_numpy(), frame
        return predict
    return fit


def statsforecast_mstl() -> Runner:
    """The peer to beat: statsforecast MSTL with an AutoETS trend forecaster."""
    from statsforecast import StatsForecast
    from statsforecast.models import MSTL, AutoETS

    def fit(train: pd.Series) -> Predict:
        df = pd.DataFrame({"unique_id": "taylor", "ds": train.index, "y": train.to_numpy()})
        sf = StatsForecast(models=[MSTL(season_length=[48, 336],
                                        trend_forecaster=AutoETS(model="ZZN"))], freq="30min")
        sf.fit(df=df)
        return lambda: (sf.predict(h=H)["MSTL"].to_numpy(), None)
    return fit


def evaluate(runner: Runner, y: pd.Series, origins: list[int]) -> dict[str, float]:
    """Backtest one runner over the origins; metrics and seconds averaged over origins."""
    rows: list[dict[str, float]] = []
    for origin in origins:
        train, test = y.iloc[:origin], y.iloc[origin:origin + H].to_numpy()
        clear_cache()  # time every fit without decompositions memoised by earlier runners
        t0 = time.perf_counter()
        predict = runner(train)
        t1 = time.perf_counter()
        mean, frame = predict()
        t2 = time.perf_counter()
        row = {"mase": fm.mase(test, mean, train.to_numpy(), 48), "mape": fm.mape(test, mean),
               "smape": fm.smape(test, mean), "rmse": fm.rmse(test, mean),
               "fit_s": t1 - t0, "predict_s": t2 - t1, "cov80": np.nan, "cov95": np.nan}
        if frame is not None:
            for level in (80, 95):
                row[f"cov{level}"] = fm.interval_coverage(
                    test, frame[f"lo_{level}"].to_numpy(), frame[f"hi_{level}"].to_numpy())
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def runners(with_gbm: bool) -> dict[str, tuple[str, Runner]]:
    """Name -> (kind, runner); kind is 'peer' or 'ours'."""
    out: dict[str, tuple[str, Runner]] = {
        "seasonal naive (day)": ("peer", point("seasonal_naive", season="day")),
        "seasonal naive (week)": ("peer", point("seasonal_naive", season="week")),
    }
    try:
        out["statsforecast MSTL+AutoETS"] = ("peer", statsforecast_mstl())
    except ImportError:
        print("statsforecast is not installed: `pip install statsforecast` (the bench extra)")
    if importlib.util.find_spec("prophet") is not None:
        out["prophet (default)"] = ("peer", point("prophet"))
    else:
        print("prophet is not installed: `pip install prophet` (the prophet extra)")
    # single models without the facade's inner backtest (point forecasts only), to save time
    out["ets (MSTL log + SES)"] = ("ours", point("ets"))
    out["mstl_ar (MSTL log + AR)"] = ("ours", point("mstl_ar"))
    out["ets_daylight"] = ("ours", point("ets_daylight", site=TAYLOR_SITE))
    out["mstl_ar_daylight"] = ("ours", point("mstl_ar_daylight", site=TAYLOR_SITE))
    out["week_analog (shifted week)"] = ("ours", point("week_analog"))
    out["day_analog (similar day)"] = ("ours", point("day_analog"))
    out["arima (MSTL log + SARIMAX)"] = ("ours", point("arima"))
    if with_gbm:
        out["gbm (HistGradientBoosting)"] = ("ours", point("gbm"))
    out["auto"] = ("ours", forecaster("auto", site=TAYLOR_SITE))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="7 origins instead of 28")
    parser.add_argument("--gbm", action="store_true", help="also run part B's GBM forecaster")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    y = taylor()
    days = 7 if args.quick else 28
    origins = [len(y) - H * k for k in range(days, 0, -1)]
    print(f"Taylor: {len(y)} half-hours {y.index[0]} .. {y.index[-1]}; {days} origins at "
          f"midnight from {y.index[origins[0]]}, horizon {H}, expanding window, refit each; "
          f"auto's candidates: {', '.join(DEFAULT_CANDIDATES + DAYLIGHT_CANDIDATES)}")
    header = (f"{'model':30s} {'MASE':>7s} {'MAPE%':>7s} {'sMAPE%':>7s} {'RMSE':>7s} "
              f"{'cov80':>6s} {'cov95':>6s} {'fit s':>7s} {'pred s':>7s}")
    print(header)
    print("-" * len(header))
    results: dict[str, tuple[str, dict[str, float]]] = {}
    for name, (kind, runner) in runners(args.gbm).items():
        m = evaluate(runner, y, origins)
        results[name] = (kind, m)
        print(f"{name:30s} {m['mase']:7.4f} {100 * m['mape']:7.3f} {100 * m['smape']:7.3f} "
              f"{m['rmse']:7.1f} {m['cov80']:6.3f} {m['cov95']:6.3f} {m['fit_s']:7.2f} "
              f"{m['predict_s']:7.3f}", flush=True)
    best_peer = min((m["mase"], n) for n, (k, m) in results.items() if k == "peer")
    auto = results["auto"][1]
    gain = 1 - auto["mase"] / best_peer[0]
    print(f"\nbest peer: {best_peer[1]} MASE {best_peer[0]:.4f}; auto MASE {auto['mase']:.4f} "
          f"({100 * gain:.1f}% lower; goal >= 10%: {'met' if gain >= 0.10 else 'MISSED'})")
    ok = 0.93 <= auto["cov95"] <= 0.97
    print(f"auto 95% interval coverage {auto['cov95']:.3f} (goal 0.93-0.97: "
          f"{'met' if ok else 'MISSED'}); 80% coverage {auto['cov80']:.3f}")


if __name__ == "__main__":
    main()

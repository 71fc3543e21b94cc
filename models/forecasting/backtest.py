"""Rolling-origin evaluation of point forecasters, and model selection by its errors.

Origins are positions in ``y``: the model is fitted on the values before an origin and forecasts
the ``horizon`` values from it. Windows expand from the start or slide with a fixed length; the
model is refitted at every origin (``refit=True``), every k-th origin (``refit=k``) or only at
the first (``refit=False``), forecasting later origins with a longer horizon from the last fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.forecasting.base import PointModel, check_horizon, check_series, steps_per_day
from models.forecasting.catalog import make_model
from models.metrics import forecast as fm

ModelSpec = str | Callable[[], PointModel]


@dataclass
class BacktestResult:
    """Forecasts and actuals of one model at each origin, with timings."""

    origins: pd.DatetimeIndex
    actuals: np.ndarray
    forecasts: np.ndarray
    scales: np.ndarray
    fit_seconds: np.ndarray
    predict_seconds: np.ndarray
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def errors(self) -> np.ndarray:
        """Actual minus forecast, shape (origins, horizon)."""
        return self.actuals - self.forecasts

    def metrics(self) -> dict[str, float]:
        """Mean over origins of MAE, RMSE, sMAPE, MAPE and MASE (in-sample daily naive)."""
        rows = [fm.point_metrics(a, f) for a, f in zip(self.actuals, self.forecasts, strict=True)]
        out = {k: float(np.mean([r[k] for r in rows])) for k in ("mae", "rmse", "smape", "mape")}
        per_origin_mae = np.abs(self.errors).mean(axis=1)
        out["mase"] = float(np.mean(per_origin_mae / self.scales))
        return out


def rolling_origins(n: int, horizon: int, n_origins: int, step: int, min_train: int) -> list[int]:
    """Up to ``n_origins`` origins ``step`` apart, the last at ``n - horizon``, none before
    ``min_train``; raises when not even one fits."""
    last = n - horizon
    origins = [last - i * step for i in range(n_origins) if last - i * step >= min_train]
    if not origins:
        raise InvalidInput(f"y has {n} values: too short for a backtest with horizon {horizon} "
                           f"and at least {min_train} training values", field="y", row=n,
                           value=n)
    return sorted(origins)


def _make(spec: ModelSpec) -> PointModel:
    return make_model(spec) if isinstance(spec, str) else spec()


def backtest(model: ModelSpec, y: pd.Series, horizon: int, *, n_origins: int = 7,
             step: int | None = None, origins: Sequence[int] | None = None,
             window: str = "expanding", window_length: int | None = None,
             refit: bool | int = True, min_train: int | None = None,
             X: pd.DataFrame | None = None, season: int | None = None) -> BacktestResult:
    """Rolling-origin backtest of ``model`` (a registry name or a factory) on ``y``.

    ``step`` defaults to one day; ``season`` (the MASE scale's lag) to one day as well.
    """
    values = check_series(y, min_length=2)
    horizon = check_horizon(horizon)
    day = steps_per_day(y.index.freq)
    if window not in ("expanding", "sliding"):
        raise InvalidInput(f"window must be 'expanding' or 'sliding', got {window!r}",
                           field="window", value=window)
    if window == "sliding" and (window_length is None or window_length < 2):
        raise InvalidInput("a sliding window needs window_length >= 2",
                           field="window_length", value=window_length)
    if X is not None and len(X) != len(y):
        raise InvalidInput(f"X has {len(X)} rows but y has {len(y)}", field="X", value=len(X))
    season = season or day
    min_train = min_train or max(2 * day + 1, season + 1)  # MSTL needs more than two days
    if origins is None:
        origins = rolling_origins(len(values), horizon, n_origins, step or day, min_train)
    every = 1 if refit is True else (0 if refit is False else int(refit))
    fitted: PointModel | None = None
    fit_at = 0
    acts, fcs, scales, fit_s, pred_s = [], [], [], [], []
    for k, origin in enumerate(origins):
        if origin < min_train or origin + horizon > len(values):
            raise InvalidInput(f"origin {origin} leaves too little history or future",
                               field="origins", row=k, value=origin)
        start = max(0, origin - window_length) if window == "sliding" and window_length else 0
        train = values.iloc[start:origin]
        t0 = time.perf_counter()
        if fitted is None or (every and k % every == 0):
            fitted = _make(model).fit(train, None if X is None else X.iloc[start:origin])
            fit_at = origin
        t1 = time.perf_counter()
        lead = origin - fit_at
        x_future = None if X is None else X.iloc[fit_at:origin + horizon]
        pred = np.asarray(fitted.predict(lead + horizon, x_future), dtype="float64")[lead:]
        t2 = time.perf_counter()
        acts.append(values.to_numpy()[origin:origin + horizon])
        fcs.append(pred)
        scales.append(fm.naive_scale(train.to_numpy(), season))
        fit_s.append(t1 - t0)
        pred_s.append(t2 - t1)
    return BacktestResult(origins=values.index[list(origins)], actuals=np.array(acts),
                          forecasts=np.array(fcs), scales=np.array(scales),
                          fit_seconds=np.array(fit_s), predict_seconds=np.array(pred_s))


def select_model(y: pd.Series, candidates: Sequence[str], horizon: int, *,
                 metric: str = "mase", **backtest_kwargs: object) -> tuple[str, dict[str, BacktestResult]]:
    """Backtest each candidate by name and return the best one by ``metric`` with all results."""
    if not candidates:
        raise InvalidInput("candidates must not be empty", field="candidates", value=candidates)
    results = {name: backtest(name, y, horizon, **backtest_kwargs)  # type: ignore[arg-type]
               for name in candidates}
    scores = {name: res.metrics()[metric] for name, res in results.items()}
    return min(scores, key=scores.__getitem__), results

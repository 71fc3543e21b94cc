"""Per-meter forecasts from one global model, per-meter intervals, and the zone as their sum.

:func:`forecast_meters` fits the gradient-boosted forecaster once across all meters
(``GBMForecaster.fit_global``: every meter's rows scaled by its own level), backtests it at a few
daily origins before the end (refitting at each) and gives every meter intervals of its own:
the meter's error scale (its mean absolute backtest error) times a quantile of all meters'
scaled errors per horizon step (pooled, so a meter with few errors still gets a stable
quantile). The zone is reconciled **bottom-up**: its mean is the sum of the meters' means, so
the two never disagree, and its intervals come from the backtest errors of that sum. Bottom-up
because the meters' forecasts are what is stored, served per user and settled against; a
top-down split (:func:`reconcile_to_zone`) would move every household's forecast by the zone
model's error and is offered for when the zone's own model is trusted more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.forecasting.base import check_horizon, check_positive_int, future_index, steps_per_day
from models.forecasting.conformal import check_levels, conformal_widths, intervals
from models.forecasting.gbm import GBMForecaster

# Two backtest origins (a day apart) by default: each costs a global refit; the pooled quantile
# has meters x origins x horizon scaled errors, plenty for 80 / 95 % levels.
DEFAULT_WINDOWS = 2


@dataclass(frozen=True)
class MeterForecast:
    """``meters``: one row per (meter_id, ts) with mean and intervals; ``zone``: indexed by ts,
    the meters' sum with its own intervals; ``backtest``: the inner errors' summary."""

    meters: pd.DataFrame
    zone: pd.DataFrame
    backtest: dict[str, Any]


def check_readings(readings: object) -> pd.DataFrame:
    """A wide frame of readings: regular DatetimeIndex (freq set), one numeric column per meter,
    no missing values; errors name the meter and timestamp."""
    if not isinstance(readings, pd.DataFrame):
        raise InvalidInput(f"readings must be a DataFrame (ts x meter), got "
                           f"{type(readings).__name__}", field="readings",
                           value=type(readings).__name__)
    if not isinstance(readings.index, pd.DatetimeIndex) or readings.index.freq is None:
        raise InvalidInput("readings need a regular DatetimeIndex with freq set (e.g. "
                           "frame.asfreq('1h'))", field="readings.index", value=None)
    steps_per_day(readings.index.freq)
    if readings.shape[1] == 0:
        raise InvalidInput("readings have no meters", field="readings", value=0)
    if readings.columns.duplicated().any():
        dup = readings.columns[readings.columns.duplicated()][0]
        raise InvalidInput(f"meter {dup!r} appears twice", field="meter_id", value=dup)
    values = readings.apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        raise InvalidInput(f"meter {readings.columns[c]!r} has no valid reading at "
                           f"{readings.index[r]} ({int(bad.sum())} missing or bad); fill gaps "
                           "first", field="meter_id", row=readings.index[r],
                           value=readings.iat[r, c])
    return pd.DataFrame(values, index=readings.index, columns=readings.columns)


def forecast_meters(readings: pd.DataFrame, horizon: int, *, levels: Sequence[float] = (80, 95),
                    n_windows: int = DEFAULT_WINDOWS,
                    params: Mapping[str, Any] | None = None) -> MeterForecast:
    """Day-ahead (or ``horizon``-step) forecasts for every meter of ``readings`` (ts x meter)."""
    frame = check_readings(readings)
    horizon = check_horizon(horizon)
    levels = check_levels(levels)
    n_windows = check_positive_int(n_windows, "n_windows")
    day = steps_per_day(frame.index.freq)
    origins = [len(frame) - horizon - k * day for k in range(n_windows - 1, -1, -1)]
    if origins[0] < 2 * max(horizon, day):
        raise InvalidInput(f"readings have {len(frame)} steps: too few for {n_windows} backtest "
                           f"origin(s) of {horizon} steps after two days of history",
                           field="readings", row=len(frame), value=len(frame))
    errors = np.stack([_errors_at(frame, origin, horizon, params) for origin in origins], axis=1)
    # errors: (meters, windows, horizon); scale each meter by its own mean absolute error
    scale = np.abs(errors).mean(axis=(1, 2))
    floor = max(float(np.median(scale)) * 1e-3, 1e-12)
    scale = np.maximum(scale, floor)
    pooled = conformal_widths((errors / scale[:, None, None]).reshape(-1, horizon), levels)
    zone_errors = errors.sum(axis=0)
    zone_widths = conformal_widths(zone_errors, levels)

    model = GBMForecaster(**dict(params or {})).fit_global(
        {m: frame[m].asfreq(frame.index.freq) for m in frame.columns})
    means = model.predict_global(horizon)
    rows = []
    for j, meter in enumerate(frame.columns):
        widths = {lv: w * scale[j] for lv, w in pooled.items()}
        bands = intervals(means[meter].to_numpy(), widths, levels)
        rows.append(pd.DataFrame({"meter_id": meter, "ts": means.index,
                                  "mean": means[meter].to_numpy(), **bands}))
    meters = pd.concat(rows, ignore_index=True)
    zone_mean = means.sum(axis=1).to_numpy()
    zone = pd.DataFrame({"mean": zone_mean, **intervals(zone_mean, zone_widths, levels)},
                        index=future_index(frame.index, horizon))
    backtest = {"origins": [str(frame.index[o]) for o in origins],
                "meter_mae": float(np.abs(errors).mean()),
                "zone_mae": float(np.abs(zone_errors).mean())}
    return MeterForecast(meters=meters, zone=zone, backtest=backtest)


def _errors_at(frame: pd.DataFrame, origin: int, horizon: int,
               params: Mapping[str, Any] | None) -> np.ndarray:
    """Actual minus forecast (meters, horizon) of the global model fitted before ``origin``."""
    train = frame.iloc[:origin]
    model = GBMForecaster(**dict(params or {})).fit_global(
        {m: train[m].asfreq(frame.index.freq) for m in frame.columns})
    pred = model.predict_global(horizon)
    actual = frame.iloc[origin:origin + horizon]
    return (actual.to_numpy() - pred.to_numpy()).T


def reconcile_to_meters(zone: pd.DataFrame, meters: pd.DataFrame) -> pd.DataFrame:
    """Bottom-up: the zone frame with its mean replaced by the sum of the meters' means at each
    timestamp and its intervals moved with it (their widths kept)."""
    total = _meter_sum(meters, zone.index)
    shift = total - zone["mean"].to_numpy(dtype="float64")
    out = zone.copy()
    for column in out.columns:
        if column == "mean" or column.startswith(("lo_", "hi_")):
            out[column] = out[column].to_numpy(dtype="float64") + shift
    return out


def reconcile_to_zone(meters: pd.DataFrame, zone: pd.DataFrame) -> pd.DataFrame:
    """Top-down: each meter's mean and intervals scaled at each timestamp by the zone's mean
    over the meters' sum, so the meters add up to the zone."""
    total = _meter_sum(meters, zone.index)
    if (np.abs(total) < 1e-12).any():
        ts = zone.index[int(np.argmax(np.abs(total) < 1e-12))]
        raise InvalidInput(f"the meters' forecasts sum to zero at {ts}; cannot split the zone "
                           "in proportion", field="meters", row=ts, value=0.0)
    factor = pd.Series(zone["mean"].to_numpy(dtype="float64") / total, index=zone.index)
    out = meters.copy()
    per_row = factor.reindex(pd.DatetimeIndex(out["ts"])).to_numpy()
    for column in out.columns:
        if column == "mean" or column.startswith(("lo_", "hi_")):
            out[column] = out[column].to_numpy(dtype="float64") * per_row
    return out


def _meter_sum(meters: pd.DataFrame, index: pd.DatetimeIndex) -> np.ndarray:
    for column in ("meter_id", "ts", "mean"):
        if column not in meters.columns:
            raise InvalidInput(f"meter forecasts are missing column {column!r}", field=column)
    total = meters.groupby("ts")["mean"].sum()
    missing = index.difference(pd.DatetimeIndex(total.index))
    if len(missing):
        raise InvalidInput(f"no meter forecasts for {missing[0]} ({len(missing)} timestamps)",
                           field="ts", row=missing[0])
    return total.reindex(index).to_numpy(dtype="float64")

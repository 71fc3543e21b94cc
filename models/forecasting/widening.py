"""Interval widening chosen on validation forecasts only, then applied to later forecasts.

The inner-backtest (split-conformal) intervals of ``Forecaster`` assume the next day's errors
look like the last few weeks'. Where they do not (a hot spell, a holiday), coverage falls. A
held-out *validation* block measures that: for each level, ``choose_scales`` picks the smallest
factor on a fixed grid by which the half-widths (around the mean) must be multiplied for the
validation coverage to reach ``target`` (by default the nominal level); factors below one narrow
intervals that over-cover (over-coverage misses a coverage goal too). ``apply_scales`` then
rescales any later forecast frame by those factors. The grid and target are fixed before any
forecast is scored; the choice sees only validation forecasts and actuals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.forecasting.conformal import check_levels

GRID = (0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.45, 1.6, 1.8, 2.0)


def _bounds(frame: pd.DataFrame, level: float, row: int) -> tuple[np.ndarray, ...]:
    name = f"{level:g}"
    missing = [c for c in ("mean", f"lo_{name}", f"hi_{name}") if c not in frame.columns]
    if missing:
        raise InvalidInput(f"forecast {row} lacks column(s) {missing}", field="frames", row=row,
                           value=missing)
    mean = frame["mean"].to_numpy(dtype="float64")
    half = (frame[f"hi_{name}"].to_numpy(dtype="float64")
            - frame[f"lo_{name}"].to_numpy(dtype="float64")) / 2.0
    if not (np.isfinite(mean).all() and np.isfinite(half).all()) or (half < 0).any():
        raise InvalidInput(f"forecast {row} has non-finite or crossed {name}% bounds",
                           field="frames", row=row, value=name)
    return mean, half


def choose_scales(frames: Sequence[pd.DataFrame], actuals: Sequence[np.ndarray],
                  levels: Sequence[float] = (80, 95), grid: Sequence[float] = GRID,
                  target: Mapping[float, float] | None = None) -> dict[float, float]:
    """Per level, the smallest factor in ``grid`` whose widened validation intervals cover at
    least ``target[level]`` percent (default: the level itself); the largest if none does."""
    levels = check_levels(levels)
    if len(frames) != len(actuals) or not frames:
        raise InvalidInput(f"need one actual per forecast, got {len(frames)} forecasts and "
                           f"{len(actuals)} actuals", field="actuals", value=len(actuals))
    factors = sorted(float(g) for g in grid)
    if not factors or factors[0] <= 0:
        raise InvalidInput(f"grid must hold positive factors, got {list(grid)}", field="grid",
                           value=list(grid))
    out: dict[float, float] = {}
    for level in levels:
        goal = (target or {}).get(level, level) / 100.0
        z, half = [], []
        for row, (frame, actual) in enumerate(zip(frames, actuals, strict=True)):
            mean, h = _bounds(frame, level, row)
            a = np.asarray(actual, dtype="float64").reshape(-1)
            if a.shape != mean.shape or not np.isfinite(a).all():
                raise InvalidInput(f"actual {row} must be {mean.shape[0]} finite values, got "
                                   f"shape {a.shape}", field="actuals", row=row, value=a.shape)
            z.append(np.abs(a - mean))
            half.append(h)
        dev, width = np.concatenate(z), np.concatenate(half)
        out[level] = next((f for f in factors if np.mean(dev <= f * width) >= goal), factors[-1])
    return out


def apply_scales(frame: pd.DataFrame, scales: Mapping[float, float]) -> pd.DataFrame:
    """``frame`` with each level's bounds moved away from ``mean`` by its factor."""
    out = frame.copy()
    for level, factor in scales.items():
        if not np.isfinite(factor) or factor <= 0:
            raise InvalidInput(f"scale for level {level:g} must be positive, got {factor!r}",
                               field="scales", row=level, value=factor)
        mean, half = _bounds(frame, level, 0)
        name = f"{level:g}"
        out[f"lo_{name}"], out[f"hi_{name}"] = mean - factor * half, mean + factor * half
    return out

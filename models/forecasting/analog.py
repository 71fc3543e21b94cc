"""Analog forecasts: tomorrow looks like a recent day, adjusted for what has changed since.

``WeekAnalog`` is last week's path shifted by how much the recent level has moved since; a
deliberately different member for ensembles: no decomposition, no smoothing. The forecast of
step ``h`` is the (log) value one week before it plus the difference between the mean of the
last ``level_window`` values and the mean of the same window one week earlier. On Taylor's
demand it is weak alone (MASE ~0.18) but its errors differ from the MSTL models', so it helps
in a combination; ``level_window`` = 6 hours was chosen on the 14 days before the benchmark's
first test origin.

``DayAnalog`` is the similar-day forecast: the last day with the weekly profile taken out (MSTL
weekly component), plus the weekly profile of the target days, plus the gap between the last
value and the same time a day earlier, decaying with a half-life of ``half_life`` steps. It
follows day-to-day changes in the daily shape (the evening ramp moving with sunset, a hot spell)
that the smoothed MSTL daily component takes days to absorb. On the 28 days before the
benchmark's first test origin it scored MASE 0.149 alone (MSTL+ETS 0.151, MSTL+AR 0.159); the
half-life (a quarter day) was chosen there among an eighth, a quarter and half a day. Given
``X`` (heating/cooling degrees), it works on the series less the weather's fitted effect (see
``models.forecasting.regression``) and adds the effect of the target days' weather back: the
similar day, corrected for the change in weather.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput
from models.forecasting.base import (
    check_fitted,
    check_horizon,
    check_positive_int,
    check_series,
    future_index,
    repeat_cycle,
    steps_per_day,
)
from models.forecasting.decomposition import log_values
from models.forecasting.ets import fit_components
from models.forecasting.regression import future_effect


class WeekAnalog(BaseEstimator):
    """Last week's values (log scale when positive) shifted by the recent change in level."""

    def __init__(self, level_window: int | None = None, log: bool | None = None) -> None:
        self.level_window = level_window
        self.log = log

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> WeekAnalog:
        """Keep the last week of ``y`` and the level shift since a week ago (X is ignored)."""
        values = check_series(y, min_length=2)
        day = steps_per_day(y.index.freq)
        window = check_positive_int(day // 4 if self.level_window is None else self.level_window,
                                    "level_window")
        week = 7 * day
        if len(values) < week + window:
            raise InvalidInput(f"y has {len(values)} values; the week analog needs at least "
                               f"{week + window} (a week plus the level window)", field="y",
                               row=len(values), value=len(values))
        arr = values.to_numpy()
        self.log_ = bool(np.all(arr > 0)) if self.log is None else bool(self.log)
        if self.log_:
            arr = log_values(arr, "y", values.index)
        self.last_week_ = arr[-week:].copy()
        self.shift_ = float(arr[-window:].mean() - arr[-week - window:-week].mean())
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """Last week repeated over ``horizon`` steps plus the level shift."""
        check_fitted(self, "last_week_")
        horizon = check_horizon(horizon)
        path = repeat_cycle(self.last_week_, horizon) + self.shift_
        return np.exp(path) if self.log_ else path


class DayAnalog(BaseEstimator):
    """Yesterday without its weekly profile, plus the target days' weekly profile and a decaying
    gap to the last value (all on the log scale when the series is positive)."""

    def __init__(self, half_life: int | None = None, log: bool | None = None,
                 windows: Sequence[int] | None = None) -> None:
        self.half_life = half_life
        self.log = log
        self.windows = windows

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> DayAnalog:
        """Remove the effect of ``X`` (if given), decompose; keep the last day, the weekly
        profile and the gap."""
        values = check_series(y, min_length=8)
        day = steps_per_day(y.index.freq)
        half_life = day // 4 if self.half_life is None else self.half_life
        if isinstance(half_life, bool) or not isinstance(half_life, int | float) \
                or not half_life > 0:
            raise InvalidInput(f"half_life must be a positive number of steps, got {half_life!r}",
                               field="half_life", value=half_life)
        if len(values) < 2 * day + 1:
            raise InvalidInput(f"y has {len(values)} values; the day analog needs at least "
                               f"{2 * day + 1} (two days and one step)", field="y",
                               row=len(values), value=len(values))
        self.log_, parts, self.exog_ = fit_components(values, self.log, self.windows, None, X)
        self.last_index_ = values.index[-1:]
        weekly = [j for j, p in enumerate(parts.periods) if p == 7 * day]
        week = parts.seasonal[:, weekly].sum(axis=1)
        adjusted = parts.deseasonalised + parts.seasonal.sum(axis=1) - week
        self.last_day_ = adjusted[-day:].copy()
        self.week_ = week[-7 * day:].copy() if weekly else np.zeros(day)
        self.gap_ = float(adjusted[-1] - adjusted[-1 - day])
        self.half_life_ = float(half_life)
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """The last day repeated, plus the weekly profile and the decaying gap."""
        check_fitted(self, "last_day_")
        horizon = check_horizon(horizon)
        steps = np.arange(1, horizon + 1)
        path = (repeat_cycle(self.last_day_, horizon) + repeat_cycle(self.week_, horizon)
                + self.gap_ * 0.5 ** (steps / self.half_life_)
                + future_effect(self.exog_, X_future, future_index(self.last_index_, horizon)))
        return np.exp(path) if self.log_ else path

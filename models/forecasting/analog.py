"""Week-ago analog: last week's path shifted by how much the recent level has moved since.

A deliberately different member for ensembles: no decomposition, no smoothing. The forecast of
step ``h`` is the (log) value one week before it plus the difference between the mean of the
last ``level_window`` values and the mean of the same window one week earlier. On Taylor's
demand it is weak alone (MASE ~0.18) but its errors differ from the MSTL models', so it helps
in a combination; ``level_window`` = 6 hours was chosen on the 14 days before the benchmark's
first test origin.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput
from models.forecasting.base import check_fitted, check_horizon, check_series, steps_per_day
from models.forecasting.decomposition import log_values


class WeekAnalog(BaseEstimator):
    """Last week's values (log scale when positive) shifted by the recent change in level."""

    def __init__(self, level_window: int | None = None, log: bool | None = None) -> None:
        self.level_window = level_window
        self.log = log

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> WeekAnalog:
        """Keep the last week of ``y`` and the level shift since a week ago (X is ignored)."""
        values = check_series(y, min_length=2)
        day = steps_per_day(y.index.freq)
        window = day // 4 if self.level_window is None else self.level_window
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise InvalidInput(f"level_window must be a positive integer, got {window!r}",
                               field="level_window", value=window)
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
        reps = -(-horizon // len(self.last_week_))
        path = np.tile(self.last_week_, reps)[:horizon] + self.shift_
        return np.exp(path) if self.log_ else path

"""Seasonal naive: repeat the last observed season (a day or a week).

``DayNaive`` and ``WeekNaive`` fix the season; they are the baselines ``auto`` always backtests
and falls back to when nothing beats them on its inner windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput
from models.forecasting.base import (
    check_fitted,
    check_horizon,
    check_series,
    repeat_cycle,
    season_lengths,
)


def resolve_season(season: str | int, freq: pd.offsets.BaseOffset | str | None,
                   n: int) -> int:
    """Steps in ``season``: "day", "week", "auto" (a week when ``n`` holds one, else a day)
    or a positive integer number of steps."""
    if isinstance(season, str):
        day, week = season_lengths(freq)
        if season in ("day", "week", "auto"):
            return day if season == "day" or (season == "auto" and n < week) else week
        raise InvalidInput(f"season must be 'day', 'week', 'auto' or a number of steps, got "
                           f"{season!r}", field="season", value=season)
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise InvalidInput(f"season must be 'day', 'week' or a positive integer, got {season!r}",
                           field="season", value=season)
    return int(season)


class SeasonalNaive(BaseEstimator):
    """Forecast each step as the value one season earlier (the last season repeated)."""

    def __init__(self, season: str | int = "auto") -> None:
        self.season = season

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> SeasonalNaive:
        """Remember the last season of ``y``; X is ignored."""
        if not isinstance(y, pd.Series) or not isinstance(y.index, pd.DatetimeIndex):
            check_series(y, min_length=1)
        period = resolve_season(self.season, y.index.freq, len(y))
        values = check_series(y, min_length=period)
        self.period_ = period
        self.last_season_ = values.to_numpy()[-period:].copy()
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """The last season tiled over ``horizon`` steps."""
        check_fitted(self, "last_season_")
        horizon = check_horizon(horizon)
        return repeat_cycle(self.last_season_, horizon)


class DayNaive(SeasonalNaive):
    """Seasonal naive with a one-day season: tomorrow repeats today."""

    def __init__(self, season: str | int = "day") -> None:
        super().__init__(season=season)


class WeekNaive(SeasonalNaive):
    """Seasonal naive with a one-week season: each day repeats the same day last week."""

    def __init__(self, season: str | int = "week") -> None:
        super().__init__(season=season)

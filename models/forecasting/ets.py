"""MSTL + exponential smoothing: remove daily and weekly seasons, smooth what is left.

The series (by default its log, when positive) is decomposed with MSTL; the seasonal components
are forecast by repeating their last cycle and the deseasonalised series (trend + remainder)
by simple or damped-trend exponential smoothing (statsmodels Holt-Winters). Given ``X`` (e.g.
heating/cooling degrees), its effect is fitted and removed before the decomposition (see
``models.forecasting.regression``); the forecast adds it back on ``X_future``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from statsmodels.tsa.holtwinters import ExponentialSmoothing

from models.errors import InvalidInput
from models.forecasting.base import (
    check_fitted,
    check_horizon,
    check_series,
    future_index,
    season_lengths,
)
from models.forecasting.daylight import Site, as_site, future_twilight
from models.forecasting.decomposition import Components, decompose_cached, usable_periods
from models.forecasting.regression import ExogRegression, future_effect

_TRENDS = (None, "damped", "additive")


class MSTLETS(BaseEstimator):
    """MSTL decomposition, seasonal naive per component, ETS on the deseasonalised series.

    With a ``site`` (a ``daylight.Site`` or (latitude, longitude, timezone)), the daily
    component follows its recent drift in twilight steps (see ``models.forecasting.daylight``).
    """

    def __init__(self, trend: str | None = None, log: bool | None = None,
                 windows: Sequence[int] | None = None, max_train: int | None = None,
                 site: Site | tuple[float, float, str] | None = None) -> None:
        self.trend = trend
        self.log = log
        self.windows = windows
        self.max_train = max_train
        self.site = site

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> MSTLETS:
        """Regress ``y`` on ``X`` (if given), decompose the rest and smooth trend + remainder."""
        if self.trend not in _TRENDS:
            raise InvalidInput(f"trend must be one of {_TRENDS}, got {self.trend!r}",
                               field="trend", value=self.trend)
        values = check_series(y, min_length=8)
        self.site_ = as_site(self.site)
        self.log_, self.components_, self.exog_ = fit_components(
            values, self.log, self.windows, self.max_train, X)
        self.last_index_ = values.index[-1:]
        deseason = self.components_.deseasonalised
        trend = "add" if self.trend else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.smoother_ = ExponentialSmoothing(
                deseason, trend=trend, damped_trend=self.trend == "damped").fit()
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """Seasonal last cycles plus the smoothed level (and trend) over ``horizon`` steps."""
        check_fitted(self, "smoother_")
        horizon = check_horizon(horizon)
        drift = future_twilight(self.last_index_, horizon, self.site_)
        path = self.components_.seasonal_forecast(horizon, drift) + np.asarray(
            self.smoother_.forecast(horizon))
        path += future_effect(self.exog_, X_future, future_index(self.last_index_, horizon))
        return np.exp(path) if self.log_ else path


def fit_components(values: pd.Series, log: bool | None, windows: Sequence[int] | None,
                   max_train: int | None, X: pd.DataFrame | None = None
                   ) -> tuple[bool, Components, ExogRegression | None]:
    """Choose the log transform, trim to ``max_train``, remove the effect of ``X`` (if given)
    and decompose (cached)."""
    if max_train is not None:
        if isinstance(max_train, bool) or not isinstance(max_train, int) or max_train < 8:
            raise InvalidInput(f"max_train must be an integer >= 8, got {max_train!r}",
                               field="max_train", value=max_train)
        values = values.iloc[-max_train:]
    arr = values.to_numpy()
    use_log = bool(np.all(arr > 0)) if log is None else bool(log)
    if use_log:
        bad = arr <= 0
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidInput(f"log=True needs positive values; row {values.index[i]} is "
                               f"{arr[i]}", field="y", row=values.index[i], value=float(arr[i]))
        arr = np.log(arr)
    periods = usable_periods(len(arr), season_lengths(values.index.freq))
    if not periods:
        day = season_lengths(values.index.freq)[0]
        raise InvalidInput(f"y has {len(arr)} values; MSTL needs more than two days (at least "
                           f"{2 * day + 1} values)", field="y", row=len(arr), value=len(arr))
    reg = None
    if X is not None:
        reg = ExogRegression.fit(arr, X, values.index, periods)
        arr = arr - reg.effect(X, values.index)
    return use_log, decompose_cached(arr, periods, windows), reg

"""ARIMA-family models on the MSTL-deseasonalised series.

``AutoSARIMAX`` searches a small grid of SARIMAX(p, d, q) orders by AIC; ``MSTLAR`` fits a long
autoregression (by default one day of lags), which follows the intraday autocorrelation of the
remainder. Both forecast the seasonal components by repeating their last cycle. ``MSTLAR`` given
``X`` (e.g. heating/cooling degrees) removes its fitted effect before the decomposition and adds
it back on ``X_future`` (see ``models.forecasting.regression``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from statsmodels.tsa.ar_model import AutoReg
from statsmodels.tsa.statespace.sarimax import SARIMAX

from models.errors import InvalidInput
from models.forecasting.base import (
    check_fitted,
    check_horizon,
    check_positive_int,
    check_series,
    future_index,
    steps_per_day,
)
from models.forecasting.daylight import Site, as_site, future_twilight
from models.forecasting.ets import fit_components
from models.forecasting.regression import future_effect

DEFAULT_ORDERS: tuple[tuple[int, int, int], ...] = ((1, 0, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1))


class AutoSARIMAX(BaseEstimator):
    """MSTL, then the SARIMAX order with the lowest AIC on the recent deseasonalised series."""

    def __init__(self, orders: Sequence[tuple[int, int, int]] = DEFAULT_ORDERS,
                 log: bool | None = None, windows: Sequence[int] | None = None,
                 max_train: int | None = None, arima_window: int | None = None) -> None:
        self.orders = orders
        self.log = log
        self.windows = windows
        self.max_train = max_train
        self.arima_window = arima_window

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> AutoSARIMAX:
        """Decompose ``y``; fit each order on the last ``arima_window`` values; keep the best."""
        if not self.orders:
            raise InvalidInput("orders must not be empty", field="orders", value=self.orders)
        values = check_series(y, min_length=8)
        self.log_, self.components_, _ = fit_components(values, self.log, self.windows,
                                                        self.max_train)
        window = self.arima_window or 7 * steps_per_day(y.index.freq)
        deseason = self.components_.deseasonalised[-window:]
        best = None
        for order in self.orders:
            trend = "c" if order[1] == 0 else "n"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    res = SARIMAX(deseason, order=tuple(order), trend=trend).fit(disp=False)
                except (ValueError, np.linalg.LinAlgError):
                    continue
            if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
                best = res
        if best is None:
            raise InvalidInput(f"no SARIMAX order in {list(self.orders)} could be fitted",
                               field="orders", value=list(self.orders))
        self.result_ = best
        self.order_ = tuple(best.model.order)
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """Seasonal last cycles plus the SARIMAX forecast of the deseasonalised series."""
        check_fitted(self, "result_")
        horizon = check_horizon(horizon)
        path = self.components_.seasonal_forecast(horizon) + np.asarray(
            self.result_.forecast(horizon))
        return np.exp(path) if self.log_ else path


class MSTLAR(BaseEstimator):
    """MSTL, then an AR(lags) with intercept on the recent deseasonalised series.

    With a ``site``, the daily component follows its recent drift in twilight steps (see
    ``models.forecasting.daylight``).
    """

    def __init__(self, lags: int | None = None, log: bool | None = None,
                 windows: Sequence[int] | None = None, max_train: int | None = None,
                 ar_window: int | None = None,
                 site: Site | tuple[float, float, str] | None = None) -> None:
        self.lags = lags
        self.log = log
        self.windows = windows
        self.max_train = max_train
        self.ar_window = ar_window
        self.site = site

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> MSTLAR:
        """Regress ``y`` on ``X`` (if given), decompose the rest; fit the autoregression on the
        last ``ar_window`` values of trend + remainder."""
        values = check_series(y, min_length=8)
        day = steps_per_day(y.index.freq)
        lags = check_positive_int(day // 2 if self.lags is None else self.lags, "lags")
        self.site_ = as_site(self.site)
        self.log_, self.components_, self.exog_ = fit_components(
            values, self.log, self.windows, self.max_train, X)
        self.last_index_ = values.index[-1:]
        deseason = self.components_.deseasonalised[-(self.ar_window or 42 * day):]
        if len(deseason) < 3 * lags:
            raise InvalidInput(f"y has {len(values)} values; AR({lags}) needs at least "
                               f"{3 * lags}", field="y", row=len(values), value=len(values))
        self.result_ = AutoReg(deseason, lags=lags, trend="c").fit()
        self.n_ = len(deseason)
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """Seasonal last cycles plus the AR forecast of the deseasonalised series."""
        check_fitted(self, "result_")
        horizon = check_horizon(horizon)
        ar = self.result_.predict(start=self.n_, end=self.n_ + horizon - 1)
        drift = future_twilight(self.last_index_, horizon, self.site_)
        path = self.components_.seasonal_forecast(horizon, drift) + np.asarray(ar)
        path += future_effect(self.exog_, X_future, future_index(self.last_index_, horizon))
        return np.exp(path) if self.log_ else path

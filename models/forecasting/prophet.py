"""Prophet (optional ``prophet`` extra): additive trend, Fourier seasonalities and regressors.

A peer in the benchmark and a candidate model; ``prophet`` is imported inside :meth:`fit` so this
module imports without it. Only the mean path is used (``uncertainty_samples=0``): intervals come
from the :class:`models.forecasting.Forecaster`'s conformal calibration like every other model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput
from models.forecasting.base import (
    as_frame,
    check_fitted,
    check_horizon,
    check_series,
    exog_values,
    future_index,
    steps_per_day,
)

# cmdstanpy and prophet log every fit at INFO; prophet.plot logs an error on import without plotly
_QUIET_LOGGERS = {"cmdstanpy": logging.WARNING, "prophet": logging.WARNING,
                  "prophet.plot": logging.CRITICAL}


class ProphetForecaster(BaseEstimator):
    """Prophet with its default hyperparameters unless given; ``X`` columns become regressors."""

    def __init__(self, daily_seasonality: bool | int | str = "auto",
                 weekly_seasonality: bool | int | str = "auto",
                 yearly_seasonality: bool | int | str = "auto",
                 seasonality_mode: str = "additive", changepoint_prior_scale: float = 0.05,
                 seasonality_prior_scale: float = 10.0) -> None:
        self.daily_seasonality = daily_seasonality
        self.weekly_seasonality = weekly_seasonality
        self.yearly_seasonality = yearly_seasonality
        self.seasonality_mode = seasonality_mode
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_prior_scale = seasonality_prior_scale

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> ProphetForecaster:
        """Fit Prophet on ``y`` (at least two days); each column of ``X`` is a regressor."""
        if self.seasonality_mode not in ("additive", "multiplicative"):
            raise InvalidInput("seasonality_mode must be 'additive' or 'multiplicative', got "
                               f"{self.seasonality_mode!r}", field="seasonality_mode",
                               value=self.seasonality_mode)
        if not isinstance(y, pd.Series) or not isinstance(y.index, pd.DatetimeIndex):
            check_series(y, min_length=1)
        values = check_series(y, min_length=2 * steps_per_day(y.index.freq))
        columns = [] if X is None else [str(c) for c in as_frame(X, "X").columns]
        frame = pd.DataFrame({"ds": _naive(values.index), "y": values.to_numpy()})
        if columns:
            frame[columns] = exog_values(X, values.index, columns, "X").to_numpy()

        with _quiet(_QUIET_LOGGERS):
            from prophet import Prophet

        # the hyperparameters are Prophet's own arguments, under the same names
        model = Prophet(**self.get_params(), uncertainty_samples=0)
        for column in columns:
            model.add_regressor(column)
        with _quiet(_QUIET_LOGGERS):
            model.fit(frame)
        self.model_ = model
        self.exog_columns_ = columns
        self.index_tail_ = values.index[-1:]  # keeps the frequency, for future_index
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """Prophet's mean (``yhat``) over the ``horizon`` steps after the training data."""
        check_fitted(self, "model_")
        horizon = check_horizon(horizon)
        index = future_index(self.index_tail_, horizon)
        future = pd.DataFrame({"ds": _naive(index)})
        if self.exog_columns_:
            if X_future is None:
                raise InvalidInput(f"model was fitted with regressors {self.exog_columns_}; "
                                   "X_future is required", field="X_future", value=None)
            future[self.exog_columns_] = exog_values(X_future, index, self.exog_columns_,
                                                     "X_future").to_numpy()
        with _quiet(_QUIET_LOGGERS):
            forecast = self.model_.predict(future)
        return forecast["yhat"].to_numpy(dtype="float64")


def _naive(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Prophet needs timezone-naive timestamps: keep the local wall-clock time."""
    return index.tz_localize(None) if index.tz is not None else index


@contextmanager
def _quiet(levels: dict[str, int]) -> Iterator[None]:
    """Drop records below ``levels[name]`` from each named logger for the duration.

    A filter rather than a level: cmdstanpy resets its logger's level on first use.
    """
    filters = {name: _Below(level) for name, level in levels.items()}
    for name, below in filters.items():
        logging.getLogger(name).addFilter(below)
    try:
        yield
    finally:
        for name, below in filters.items():
            logging.getLogger(name).removeFilter(below)


class _Below(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level

"""ProphetForecaster (optional extra): fit/predict, regressors, errors, registry and Forecaster."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting import Forecaster
from models.forecasting.catalog import make_model
from models.forecasting.prophet import ProphetForecaster

pytest.importorskip("prophet")


def demand(days: int = 14, freq: str = "1h", seed: int = 0) -> pd.Series:
    """Positive synthetic demand with a daily and a weekday/weekend season."""
    index = pd.date_range("2024-03-04", periods=days * pd.Timedelta("1D") // pd.Timedelta(freq),
                          freq=freq, name="ts")
    hours = index.hour + index.minute / 60
    rng = np.random.default_rng(seed)
    values = (100 + 20 * np.sin(2 * np.pi * (hours - 6) / 24) + 8 * (index.dayofweek < 5)
              + rng.normal(0, 1.0, len(index)))
    return pd.Series(values, index=index, name="load")


@pytest.mark.parametrize("freq, day", [("1h", 24), ("30min", 48)])
def test_fit_predict_shape_and_accuracy(freq: str, day: int) -> None:
    y = demand(freq=freq)
    model = ProphetForecaster().fit(y.iloc[:-day])
    pred = model.predict(day)
    assert pred.shape == (day,) and np.isfinite(pred).all()
    flat = np.full(day, y.iloc[:-day].mean())
    actual = y.iloc[-day:].to_numpy()
    assert np.mean(np.abs(actual - pred)) < 0.5 * np.mean(np.abs(actual - flat))


def test_hyperparameters_are_stored_as_given_and_fit_is_quiet(
        caplog: pytest.LogCaptureFixture) -> None:
    model = ProphetForecaster(weekly_seasonality=False, changepoint_prior_scale=0.5)
    assert model.get_params()["weekly_seasonality"] is False
    assert model.get_params()["daily_seasonality"] == "auto"
    with caplog.at_level(logging.INFO):
        model.fit(demand(days=5))
    assert not [r for r in caplog.records if r.name.startswith(("cmdstanpy", "prophet"))]
    assert "weekly" not in model.model_.seasonalities
    assert not logging.getLogger("cmdstanpy").filters


def test_unfitted_predict_raises() -> None:
    with pytest.raises(NotFittedError):
        ProphetForecaster().predict(5)


def test_nan_and_too_short_input() -> None:
    y = demand()
    y.iloc[30] = np.nan
    with pytest.raises(InvalidInput, match="row 30") as err:
        ProphetForecaster().fit(y)
    assert err.value.row == y.index[30]
    with pytest.raises(InvalidInput, match="at least 48"):
        ProphetForecaster().fit(demand().iloc[:30])
    with pytest.raises(InvalidInput, match="seasonality_mode"):
        ProphetForecaster(seasonality_mode="both").fit(demand())


def test_regressors_are_used_and_required_in_x_future() -> None:
    y = demand()
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"temp": rng.normal(15, 5, len(y)), "wind": rng.normal(0, 1, len(y))},
                     index=y.index)
    y = y + 3 * X["temp"]
    train, X_train, X_test = y.iloc[:-24], X.iloc[:-24], X.iloc[-24:]
    model = ProphetForecaster().fit(train, X_train)
    assert model.exog_columns_ == ["temp", "wind"]
    pred = model.predict(24, X_test)
    without = ProphetForecaster().fit(train).predict(24)
    actual = y.iloc[-24:].to_numpy()
    assert np.abs(actual - pred).mean() < np.abs(actual - without).mean()
    with pytest.raises(InvalidInput, match="X_future is required"):
        model.predict(24)
    with pytest.raises(InvalidInput, match="'wind'") as err:
        model.predict(24, X_test[["temp"]])
    assert err.value.field == "wind"
    with pytest.raises(InvalidInput, match="no row"):
        model.predict(48, X_test)
    gappy = X_test.copy()
    gappy.iloc[5, 0] = np.nan
    with pytest.raises(InvalidInput, match="'temp' is missing at row 5"):
        model.predict(24, gappy)


def test_pickle_round_trip() -> None:
    model = ProphetForecaster().fit(demand(days=5))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict(12), model.predict(12))


def test_through_the_registry_and_the_forecaster() -> None:
    assert isinstance(make_model("prophet", yearly_seasonality=False), ProphetForecaster)
    y = demand()
    fc = Forecaster(model="prophet", n_windows=2).fit(y)
    frame = fc.predict(24)
    assert fc.selected_ == "prophet"
    assert frame.index[0] == y.index[-1] + pd.Timedelta("1h") and len(frame) == 24
    assert (frame["lo_95"] <= frame["lo_80"]).all() and (frame["lo_80"] <= frame["mean"]).all()
    assert (frame["mean"] <= frame["hi_80"]).all() and (frame["hi_80"] <= frame["hi_95"]).all()

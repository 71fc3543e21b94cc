"""The point models' contract: fit/predict shape, no leakage, unfitted and bad input raise."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting.base import PointModel
from models.forecasting.catalog import make_model

MODELS = ["seasonal_naive", "ets", "mstl_ar", "arima"]
# a two-order search keeps the SARIMAX tests fast; the default grid is tested once below
FAST = {"arima": {"orders": [(1, 0, 0), (0, 1, 1)]}}


def build(name: str) -> PointModel:
    return make_model(name, **FAST.get(name, {}))


def demand(days: int = 21, freq: str = "1h", seed: int = 0) -> pd.Series:
    """Positive synthetic demand with daily and weekday/weekend seasons and AR(1) noise."""
    index = pd.date_range("2024-03-04", periods=days * pd.Timedelta("1D") // pd.Timedelta(freq),
                          freq=freq)
    hours = index.hour + index.minute / 60
    rng = np.random.default_rng(seed)
    noise = np.zeros(len(index))
    for i in range(1, len(index)):
        noise[i] = 0.7 * noise[i - 1] + rng.normal(0, 1.0)
    values = 100 + 20 * np.sin(2 * np.pi * (hours - 6) / 24) + 8 * (index.dayofweek < 5) + noise
    return pd.Series(values, index=index, name="load")


@pytest.mark.parametrize("name", MODELS)
def test_fit_predict_shape_and_accuracy(name: str) -> None:
    y = demand()
    model = build(name).fit(y.iloc[:-24])
    pred = model.predict(24)
    assert pred.shape == (24,)
    assert np.isfinite(pred).all()
    # each model beats the flat forecast of the last training mean on a strongly seasonal series
    flat = np.full(24, y.iloc[:-24].mean())
    actual = y.iloc[-24:].to_numpy()
    assert np.mean(np.abs(actual - pred)) < 0.5 * np.mean(np.abs(actual - flat))


@pytest.mark.parametrize("name", MODELS)
def test_no_leakage_from_future_values(name: str) -> None:
    y = demand()
    altered = y.copy()
    altered.iloc[-48:] += 500.0
    first = build(name).fit(y.iloc[:-48]).predict(48)
    second = build(name).fit(altered.iloc[:-48]).predict(48)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", MODELS)
def test_unfitted_predict_raises(name: str) -> None:
    with pytest.raises(NotFittedError):
        build(name).predict(5)


@pytest.mark.parametrize("name", MODELS)
def test_nan_input_names_the_row(name: str) -> None:
    y = demand()
    y.iloc[100] = np.nan
    with pytest.raises(InvalidInput) as err:
        build(name).fit(y)
    assert err.value.row == y.index[100]
    assert "row 100" in str(err.value)


@pytest.mark.parametrize("name", MODELS)
def test_too_short_input(name: str) -> None:
    with pytest.raises(InvalidInput, match="at least"):
        build(name).fit(demand().iloc[:6])


@pytest.mark.parametrize("name", MODELS)
def test_missing_frequency_is_rejected(name: str) -> None:
    y = demand().iloc[:-1].drop(demand().index[50])
    with pytest.raises(InvalidInput, match="frequency"):
        build(name).fit(y)


@pytest.mark.parametrize("name", MODELS)
def test_long_horizon_and_half_hourly(name: str) -> None:
    y = demand(days=21, freq="30min")
    pred = build(name).fit(y).predict(4 * 7 * 48)
    assert pred.shape == (1344,)
    assert np.isfinite(pred).all()


@pytest.mark.parametrize("name", MODELS)
def test_pickle_round_trip(name: str) -> None:
    model = build(name).fit(demand())
    np.testing.assert_allclose(pickle.loads(pickle.dumps(model)).predict(12), model.predict(12))


@pytest.mark.parametrize("horizon", [0, -3, 2.5, True])
def test_bad_horizon(horizon: object) -> None:
    model = make_model("seasonal_naive").fit(demand())
    with pytest.raises(InvalidInput, match="horizon"):
        model.predict(horizon)  # type: ignore[arg-type]


def test_seasonal_naive_repeats_the_last_day() -> None:
    y = demand()
    pred = make_model("seasonal_naive", season="day").fit(y).predict(30)
    np.testing.assert_array_equal(pred[:24], y.to_numpy()[-24:])
    np.testing.assert_array_equal(pred[24:], y.to_numpy()[-24:-18])


def test_seasonal_naive_rejects_bad_season() -> None:
    with pytest.raises(InvalidInput, match="season"):
        make_model("seasonal_naive", season="month").fit(demand())


def test_ets_log_needs_positive_values() -> None:
    y = demand() - 200
    with pytest.raises(InvalidInput, match="positive"):
        make_model("ets", log=True).fit(y)
    assert make_model("ets").fit(y).log_ is False


def test_arima_searches_the_default_orders() -> None:
    model = make_model("arima").fit(demand())
    assert model.order_ in [(1, 0, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)]

"""Weather as exogenous input: degree features, and the MSTL models' regression on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.features import DEGREE_COLUMNS, degree_features, temperature_on
from models.forecasting import Forecaster
from models.forecasting.catalog import make_model


def weather_demand(days: int = 21, seed: int = 5) -> tuple[pd.Series, pd.Series]:
    """Hourly demand with a daily profile plus a cooling load on hot days, and its temperature."""
    index = pd.date_range("2024-01-01", periods=24 * days, freq="1h", name="ts")
    rng = np.random.default_rng(seed)
    daily_mean = 20 + np.repeat(rng.normal(0, 5, days), 24)  # weather systems change by day
    temp = pd.Series(daily_mean + 6 * np.sin(2 * np.pi * (index.hour - 9) / 24), index=index)
    cooling = np.clip(temp.to_numpy() - 22, 0, None)
    y = 100 + 20 * np.sin(2 * np.pi * index.hour / 24) + 4 * cooling + rng.normal(0, 1, len(index))
    return pd.Series(y, index=index), temp


def test_degree_features_are_degrees_below_and_above_the_bases() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="1h")
    temp = pd.Series([10.0, 15.5, 20.0, 30.0], index=index)
    frame = degree_features(temp)
    assert list(frame.columns) == list(DEGREE_COLUMNS)
    np.testing.assert_allclose(frame["heating_degrees"], [5.5, 0, 0, 0])
    np.testing.assert_allclose(frame["cooling_degrees"], [0, 0, 0, 8.0])
    # the smoothed temperature remembers the heat after a cold front arrives
    front = degree_features(pd.Series([30.0, 30.0, 30.0, 10.0], index=index))
    assert front["cooling_degrees"].iloc[-1] == 0 and front["heating_degrees"].iloc[-1] == 5.5
    assert 0 < front["cooling_degrees_smooth"].iloc[-1] < 8.0


def test_degree_features_are_causal() -> None:
    _, temp = weather_demand(days=3)
    changed = temp.copy()
    changed.iloc[40:] += 15
    a, b = degree_features(temp), degree_features(changed)
    pd.testing.assert_frame_equal(a.iloc[:40], b.iloc[:40])


def test_temperature_on_interpolates_and_names_what_is_missing() -> None:
    readings = pd.Series([10.0, 12.0, 11.0],
                         index=pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC"))
    half = pd.date_range("2024-01-01", periods=5, freq="30min", tz="UTC")
    np.testing.assert_allclose(temperature_on(half, readings), [10, 11, 12, 11.5, 11])
    longer = pd.date_range("2024-01-01", periods=7, freq="30min", tz="UTC")
    with pytest.raises(InvalidInput, match=r"2024-01-01 02:30:00.*outside the readings"):
        temperature_on(longer, readings)
    with pytest.raises(InvalidInput, match="gap"):
        temperature_on(half, readings.drop(readings.index[1]), max_gap=pd.Timedelta("1h"))
    with pytest.raises(InvalidInput, match="zone-aware"):
        temperature_on(half.tz_localize(None), readings)


def test_bad_temperature_is_rejected() -> None:
    _, temp = weather_demand(days=2)
    temp.iloc[5] = np.nan
    with pytest.raises(InvalidInput, match="missing at 2024-01-01 05:00"):
        degree_features(temp)
    with pytest.raises(InvalidInput, match="heating_base"):
        degree_features(temp.dropna(), heating_base=25.0)


@pytest.mark.parametrize("name", ["ets", "mstl_ar", "day_analog", "gbm"])
def test_models_that_take_weather_use_it(name: str) -> None:
    y, temp = weather_demand()
    X = degree_features(temp)
    train, test = y.iloc[:-24], y.iloc[-24:].to_numpy()
    params = {"max_iter": 60} if name == "gbm" else {}
    with_x = make_model(name, **params).fit(train, X.iloc[:-24]).predict(24, X.iloc[-24:])
    without = make_model(name, **params).fit(train).predict(24)
    assert np.abs(with_x - test).mean() < 0.8 * np.abs(without - test).mean()


def test_fitted_with_weather_needs_future_weather() -> None:
    y, temp = weather_demand(days=10)
    X = degree_features(temp)
    model = make_model("ets").fit(y.iloc[:-24], X.iloc[:-24])
    with pytest.raises(InvalidInput, match="X_future is required"):
        model.predict(24)
    with pytest.raises(InvalidInput, match="no row for"):
        model.predict(24, X.iloc[-30:-20])


def test_auto_passes_weather_to_its_candidates() -> None:
    y, temp = weather_demand(days=16)
    X = degree_features(temp)
    fc = Forecaster(model="auto", n_windows=3).fit(y.iloc[:-24], X.iloc[:-24])
    frame = fc.predict(24, X.iloc[-24:])
    assert frame.shape == (24, 5)
    assert np.isfinite(frame.to_numpy()).all()

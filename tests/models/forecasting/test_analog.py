"""WeekAnalog and DayAnalog: the analog forecasts, the contract and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting.analog import DayAnalog, WeekAnalog
from models.forecasting.catalog import make_model
from models.forecasting.decomposition import stl_decompose


def series(days: int = 15, freq: str = "1h", seed: int = 1) -> pd.Series:
    index = pd.date_range("2024-03-04", periods=days * pd.Timedelta("1D") // pd.Timedelta(freq),
                          freq=freq)
    rng = np.random.default_rng(seed)
    hours = index.hour + index.minute / 60
    values = 100 + 20 * np.sin(2 * np.pi * hours / 24) + 5 * (index.dayofweek < 5)
    return pd.Series(values + rng.normal(0, 1, len(index)), index=index)


def test_forecast_is_last_week_plus_level_shift_on_the_raw_scale() -> None:
    y = series()
    model = WeekAnalog(level_window=6, log=False).fit(y)
    arr = y.to_numpy()
    shift = arr[-6:].mean() - arr[-168 - 6:-168].mean()
    np.testing.assert_allclose(model.predict(30), arr[-168:-138] + shift)
    # past one week the last week repeats
    assert model.predict(200)[168] == pytest.approx(arr[-168] + shift)


def test_log_scale_by_default_for_positive_series() -> None:
    y = series()
    model = make_model("week_analog").fit(y)
    logs = np.log(y.to_numpy())
    shift = logs[-6:].mean() - logs[-174:-168].mean()  # hourly: window = 24 // 4 = 6
    assert model.log_
    np.testing.assert_allclose(model.predict(24), np.exp(logs[-168:-144] + shift))


def test_a_level_step_carries_into_the_forecast() -> None:
    y = series()
    stepped = y.copy()
    stepped.iloc[-12:] += 10.0
    base = WeekAnalog(log=False).fit(y).predict(24)
    moved = WeekAnalog(log=False).fit(stepped).predict(24)
    np.testing.assert_allclose(moved - base, 10.0)


def test_no_leakage_from_future_values() -> None:
    y = series()
    altered = y.copy()
    altered.iloc[-24:] += 500.0
    first = WeekAnalog().fit(y.iloc[:-24]).predict(24)
    second = WeekAnalog().fit(altered.iloc[:-24]).predict(24)
    np.testing.assert_array_equal(first, second)


def test_unfitted_predict_raises() -> None:
    with pytest.raises(NotFittedError):
        WeekAnalog().predict(3)


def test_nan_names_the_row() -> None:
    y = series()
    y.iloc[40] = np.nan
    with pytest.raises(InvalidInput) as err:
        WeekAnalog().fit(y)
    assert err.value.row == y.index[40]


def test_too_short_needs_a_week_plus_the_window() -> None:
    with pytest.raises(InvalidInput, match="at least 174"):
        WeekAnalog().fit(series().iloc[:170])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_level_window(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        WeekAnalog(level_window=bad).fit(series())
    assert err.value.field == "level_window"


def test_log_needs_positive_values() -> None:
    y = series() - 150.0
    with pytest.raises(InvalidInput, match="positive"):
        WeekAnalog(log=True).fit(y)


def test_day_analog_is_yesterday_plus_weekly_profile_and_decaying_gap() -> None:
    y = series(days=21)
    model = DayAnalog(half_life=3, log=False).fit(y)
    assert not model.log_ and model.half_life_ == 3.0
    parts = stl_decompose(y, log=False)
    adjusted = (y - parts["seasonal_168"]).to_numpy()
    gap = adjusted[-1] - adjusted[-25]
    expected = (adjusted[-24:] + parts["seasonal_168"].to_numpy()[-168:-144]
                + gap * 0.5 ** (np.arange(1, 25) / 3))
    np.testing.assert_allclose(model.predict(24), expected, rtol=1e-6)
    # past a day the adjusted day repeats; past a week the weekly profile does too
    assert model.predict(400).shape == (400,)


def test_day_analog_short_series_has_no_weekly_profile() -> None:
    y = series(days=5)
    model = make_model("day_analog").fit(y)
    assert model.log_
    np.testing.assert_array_equal(model.week_, np.zeros(24))
    assert model.predict(30).shape == (30,)


def test_day_analog_no_leakage_and_unfitted() -> None:
    y = series()
    altered = y.copy()
    altered.iloc[-24:] += 500.0
    first = DayAnalog().fit(y.iloc[:-24]).predict(24)
    second = DayAnalog().fit(altered.iloc[:-24]).predict(24)
    np.testing.assert_array_equal(first, second)
    with pytest.raises(NotFittedError):
        DayAnalog().predict(3)


@pytest.mark.parametrize("bad", [0, -3, True, "6"])
def test_day_analog_bad_half_life(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        DayAnalog(half_life=bad).fit(series())
    assert err.value.field == "half_life" and err.value.value == bad


def test_day_analog_too_short_and_nan() -> None:
    with pytest.raises(InvalidInput, match="at least 49"):
        DayAnalog().fit(series().iloc[:40])
    y = series()
    y.iloc[30] = np.inf
    with pytest.raises(InvalidInput) as err:
        DayAnalog().fit(y)
    assert err.value.row == y.index[30]

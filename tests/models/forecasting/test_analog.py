"""WeekAnalog: last week shifted by the recent level change; contract and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting.analog import WeekAnalog
from models.forecasting.registry import make_model


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

"""Rolling-origin backtests: origins, windows, refit schedules, no leakage, selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.forecasting.backtest import backtest, rolling_origins, select_model
from models.forecasting.naive import SeasonalNaive


def series(days: int = 10) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=24 * days, freq="1h")
    rng = np.random.default_rng(2)
    return pd.Series(20 + 5 * np.sin(2 * np.pi * index.hour / 24) + rng.normal(0, 0.3, len(index))
                     + 0.05 * np.arange(len(index)), index=index)


class LastValue:
    """A point model that remembers the training length and last value."""

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> LastValue:
        self.n_, self.last_ = len(y), float(y.iloc[-1])
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        return np.full(horizon, self.last_ + self.n_ * 1e-6)


def test_rolling_origins() -> None:
    assert rolling_origins(100, 10, 3, 5, 50) == [80, 85, 90]
    assert rolling_origins(100, 10, 9, 20, 40) == [50, 70, 90]
    with pytest.raises(InvalidInput, match="too short"):
        rolling_origins(20, 10, 3, 5, 15)


def test_expanding_backtest_matches_manual_forecasts() -> None:
    y = series()
    res = backtest(lambda: SeasonalNaive(season="day"), y, 24, n_origins=3)
    assert list(res.origins) == list(y.index[[len(y) - 72, len(y) - 48, len(y) - 24]])
    np.testing.assert_array_equal(res.forecasts[-1], y.to_numpy()[-48:-24])
    np.testing.assert_array_equal(res.actuals[0], y.to_numpy()[-72:-48])
    assert res.metrics()["mase"] == pytest.approx(
        np.mean(np.abs(res.errors).mean(axis=1) / res.scales))


def test_sliding_window_and_refit_schedule() -> None:
    y = series()
    origins = [len(y) - 24, len(y) - 18, len(y) - 12, len(y) - 6]
    last = np.array([y.iloc[o - 1] for o in origins])
    sliding = backtest(LastValue, y, 6, n_origins=4, step=6, window="sliding", window_length=50)
    np.testing.assert_allclose(sliding.forecasts[:, 0], last + 50e-6)  # 50 training values
    expanding = backtest(LastValue, y, 6, n_origins=4, step=6)
    np.testing.assert_allclose(expanding.forecasts[:, 0], last + np.array(origins) * 1e-6)
    once = backtest(LastValue, y, 6, n_origins=4, step=6, refit=False)
    assert np.allclose(once.forecasts, once.forecasts[0, 0])
    every2 = backtest(LastValue, y, 6, n_origins=4, step=6, refit=2)
    assert every2.forecasts[0, 0] == every2.forecasts[1, 0] != every2.forecasts[2, 0]


def test_no_leakage_of_values_after_each_origin() -> None:
    y = series()
    altered = y.copy()
    altered.iloc[-24:] += 100
    a = backtest("ets", y, 24, n_origins=2, step=24)
    b = backtest("ets", altered, 24, n_origins=2, step=24)
    np.testing.assert_array_equal(a.forecasts, b.forecasts)
    assert not np.array_equal(a.actuals, b.actuals)


def test_select_model_picks_lowest_error() -> None:
    best, results = select_model(series(), ["seasonal_naive", "ets"], 24, n_origins=2)
    scores = {k: r.metrics()["mase"] for k, r in results.items()}
    assert best == min(scores, key=scores.__getitem__)
    with pytest.raises(InvalidInput):
        select_model(series(), [], 24)


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="window"):
        backtest("ets", series(), 24, window="rolling")
    with pytest.raises(InvalidInput, match="window_length"):
        backtest("ets", series(), 24, window="sliding")
    with pytest.raises(InvalidInput, match="unknown model"):
        backtest("holt", series(), 24)


def test_default_first_origin_leaves_mstl_more_than_two_days() -> None:
    """Was: an origin at exactly two days, where MSTL (which needs more) failed the backtest."""
    y = series(days=10)
    result = backtest("ets", y, 24, n_origins=14)
    # origins a day apart back from 216 (the last 24 values held out): 48, exactly two days,
    # is left out, so 72 .. 216
    assert [y.index.get_loc(o) for o in result.origins] == list(range(72, 217, 24))
    assert np.isfinite(result.forecasts).all()

"""Conformal half-widths and the STL decomposition function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.forecasting import stl_decompose
from models.forecasting.conformal import conformal_widths, extend_widths, intervals, local_scale
from models.forecasting.forecaster import calibrated_widths


def test_widths_cover_the_calibration_errors_at_their_level() -> None:
    rng = np.random.default_rng(0)
    errors = rng.normal(0, 1, (40, 24)) * np.linspace(1, 3, 24)
    widths = conformal_widths(errors, [80, 95])
    assert widths[80].shape == (24,)
    assert (widths[95] > widths[80]).all()
    assert (np.diff(widths[95]) >= 0).all()
    covered = np.mean(np.abs(errors) <= widths[95])
    assert 0.94 <= covered <= 0.99
    # fresh errors from the same distribution are covered close to the nominal level
    fresh = rng.normal(0, 1, (400, 24)) * np.linspace(1, 3, 24)
    assert 0.92 <= np.mean(np.abs(fresh) <= widths[95]) <= 0.98


def test_extend_and_intervals() -> None:
    widths = {95.0: np.array([1.0, 2.0])}
    np.testing.assert_allclose(extend_widths(widths[95.0], 4), [1, 2, 2 * np.sqrt(1.5), 2 * 2**0.5])
    bands = intervals(np.array([10.0, 10.0, 10.0]), widths, [95])
    np.testing.assert_allclose(bands["lo_95"], [9, 8, 10 - 2 * np.sqrt(1.5)])
    with pytest.raises(InvalidInput, match="not calibrated"):
        intervals(np.zeros(2), widths, [80])


def test_bad_errors_rejected() -> None:
    with pytest.raises(InvalidInput):
        conformal_widths(np.array([[np.nan, 1.0]]), [90])
    with pytest.raises(InvalidInput, match="percentage"):
        conformal_widths(np.ones((3, 2)), [0])


def test_stl_recovers_known_components() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 21, freq="1h")
    t = np.arange(len(index))
    daily = 5 * np.sin(2 * np.pi * t / 24)
    weekly = 3 * (index.dayofweek >= 5)
    y = pd.Series(50 + 0.01 * t + daily + weekly, index=index)
    parts = stl_decompose(y)
    assert list(parts.columns) == ["trend", "seasonal_24", "seasonal_168", "seasonal", "resid"]
    pd.testing.assert_index_equal(parts.index, y.index)
    np.testing.assert_allclose(parts["trend"] + parts["seasonal"] + parts["resid"], y)
    middle = slice(168, 336)
    assert np.corrcoef(parts["seasonal_24"].iloc[middle], daily[middle])[0, 1] > 0.99
    assert np.abs(parts["resid"].iloc[middle]).max() < 0.5


def test_stl_short_and_log() -> None:
    index = pd.date_range("2024-01-01", periods=60, freq="1h")
    y = pd.Series(10 + np.sin(np.arange(60)), index=index)
    assert list(stl_decompose(y, log=True).columns) == ["trend", "seasonal_24", "seasonal",
                                                         "resid"]
    with pytest.raises(InvalidInput, match="two cycles"):
        stl_decompose(y.iloc[:30])
    with pytest.raises(InvalidInput, match="positive"):
        stl_decompose(y - 20, log=True)
    with pytest.raises(InvalidInput, match="periods"):
        stl_decompose(y, periods=[1])


def test_one_origin_counts_as_few_samples() -> None:
    # 48 errors of one origin are ~7 pooling blocks: too few for a 95 % quantile below the max
    errors = np.random.default_rng(1).normal(0, 1, (1, 48))
    widths = conformal_widths(errors, [95])
    assert (np.abs(errors) <= widths[95] + 1e-12).all()


def test_half_life_lets_the_recent_origins_set_the_width() -> None:
    rng = np.random.default_rng(2)
    old = rng.normal(0, 4, (14, 24))
    recent = rng.normal(0, 1, (14, 24))
    errors = np.vstack([old, recent])
    uniform = conformal_widths(errors, [95])[95]
    weighted = conformal_widths(errors, [95], half_life=3)[95]
    fresh = rng.normal(0, 1, (400, 24))
    # the old, wider errors dominate the uniform width; weighted, the width fits the recent ones
    assert weighted.mean() < 0.6 * uniform.mean()
    assert 0.92 <= np.mean(np.abs(fresh) <= weighted) <= 0.999
    # with equal ages (a huge half-life) the weighted quantile is the plain one, up to a block
    np.testing.assert_allclose(conformal_widths(errors, [95], half_life=1e9)[95], uniform,
                               rtol=0.1)
    with pytest.raises(InvalidInput, match="half_life"):
        conformal_widths(errors, [95], half_life=0)


def test_local_scale_is_the_recent_day_on_day_change() -> None:
    values = np.r_[np.zeros(24), np.full(24, 2.0), np.full(24, 5.0)]
    # two days of day-on-day changes: 2 then 3
    assert local_scale(values, 72, 24) == pytest.approx(2.5)
    assert local_scale(values, 72, 24, days=1) == pytest.approx(3.0)
    with pytest.raises(InvalidInput, match="more than one day"):
        local_scale(values, 24, 24)


def test_widths_follow_a_change_in_how_much_demand_moves() -> None:
    # day-ahead day-naive errors; after a volatile month the noise falls to a third for the
    # last 8 days and stays so (a calm week after a hot spell)
    rng = np.random.default_rng(5)
    day, days = 24, 40
    profile = 100 + 20 * np.sin(2 * np.pi * np.arange(day) / day)
    sd = np.r_[np.full(days - 8, 3.0), np.ones(8)]
    values = (profile + rng.normal(0, 1, (days, day)) * sd[:, None]).ravel()
    origins = np.array([len(values) - day * k for k in range(14, 0, -1)])
    errors = np.array([values[o:o + day] - values[o - day:o] for o in origins])
    adaptive = calibrated_widths(values[:-day], origins - day, errors, day, [95])[95]
    plain = conformal_widths(errors, [95])[95]
    fresh = profile + rng.normal(0, 1, (500, day)) - values[-day:]
    assert np.mean(np.abs(fresh) <= plain) > 0.995
    assert 0.92 <= np.mean(np.abs(fresh) <= adaptive) <= 0.99

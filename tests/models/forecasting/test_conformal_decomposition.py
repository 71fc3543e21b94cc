"""Conformal half-widths and the STL decomposition function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.forecasting import stl_decompose
from models.forecasting.conformal import conformal_widths, extend_widths, intervals


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

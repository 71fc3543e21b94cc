"""Conformal bounds by sun-elevation bin: finite-sample quantiles, pooling, darkness, limits."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InvalidInput
from models.solar.intervals import EDGES, bin_of, calibrate, conformal_quantile, sky_of


def test_bins_cover_the_sky() -> None:
    assert list(bin_of(np.array([-10.0, 0.0, 4.9, 5.0, 45.0, 90.0]))) == [0, 0, 0, 1, 6, 8]
    assert len(EDGES) - 2 == bin_of(np.array([90.0]))[0]


def test_finite_sample_quantile_is_conservative() -> None:
    values = np.arange(1, 20, dtype=float)          # n = 19: ceil(20 * 0.95) = 19th value
    assert conformal_quantile(values, 0.95) == 19.0
    assert conformal_quantile(values, 0.025) == 1.0
    assert conformal_quantile(values, 0.5) == 10.0


def test_coverage_per_bin_and_pooling_for_thin_bins() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    elevation = rng.uniform(0, 60, n)
    scale = np.full(n, 2.0)
    spread = np.where(elevation < 20, 0.05, 0.2)      # low sun: narrow errors, high sun: wide
    cal = calibrate(rng.normal(0, spread) * scale, scale, elevation, (80, 95))
    low, high = bin_of(np.array([10.0, 45.0]))
    assert cal.upper[95.0][low, 0] < cal.upper[95.0][high, 0]
    fresh_el = rng.uniform(0, 60, n)
    fresh_spread = np.where(fresh_el < 20, 0.05, 0.2)
    truth = 1.0 + rng.normal(0, fresh_spread) * 2.0
    out = cal.bounds(np.full(n, 1.0), np.full(n, 2.0), fresh_el, np.zeros(n, bool), 10.0, (95,))
    inside = (out["lo_95"] <= truth) & (truth <= out["hi_95"])
    assert 0.93 < inside.mean() < 0.97
    thin = calibrate(np.array([0.1, -0.1, 0.2]), np.ones(3), np.array([70.0, 70.0, 10.0]), (95,))
    assert np.allclose(thin.upper[95.0], 0.2)   # every cell takes the pooled value


def test_dark_is_zero_and_bounds_stay_within_zero_and_limit() -> None:
    cal = calibrate(np.linspace(-1, 1, 200), np.ones(200), np.full(200, 30.0), (80, 95))
    mean = np.array([0.5, 0.0, 0.9])
    out = cal.bounds(mean, np.ones(3), np.array([30.0, -5.0, 30.0]),
                     np.array([False, True, False]), 1.0, (80, 95))
    assert out["lo_95"][1] == out["hi_95"][1] == out["lo_80"][1] == out["hi_80"][1] == 0.0
    assert (out["lo_95"] >= 0).all() and (out["hi_95"] <= 1.0).all()
    with pytest.raises(InvalidInput, match="not calibrated"):
        cal.bounds(mean, np.ones(3), np.zeros(3), np.zeros(3, bool), 1.0, (50,))
    with pytest.raises(InvalidInput, match="residuals"):
        calibrate(np.array([np.nan]), np.ones(1), np.zeros(1), (95,))


def test_sky_cells_split_errors_and_thin_cells_take_their_elevation_bin() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    elevation = np.full(n, 45.0)
    sky = sky_of(np.where(np.arange(n) < 2000, 0.9, 0.5), np.where(np.arange(n) < 2000, 0.01, 0.2))
    assert list(np.bincount(sky)) == [2000, 1000]
    residual = rng.normal(0, np.where(sky == 0, 0.02, 0.3))
    cal = calibrate(residual, np.ones(n), elevation, (95,), sky)
    b = bin_of(np.array([45.0]))[0]
    assert cal.upper[95.0][b, 0] < 0.2 * cal.upper[95.0][b, 1]
    assert cal.upper[95.0][b, 2] == conformal_quantile(residual, 0.975)  # no overcast: the bin's
    out = cal.bounds(np.ones(2), np.ones(2), np.full(2, 45.0), np.zeros(2, bool), 5.0, (95,),
                     np.array([0, 1]))
    assert out["hi_95"][0] - 1 < 0.2 * (out["hi_95"][1] - 1)

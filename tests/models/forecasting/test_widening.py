"""Interval widening chosen on validation forecasts: too-narrow intervals reach their level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from models.errors import InvalidInput
from models.forecasting.widening import apply_scales, choose_scales


def frames_for(rng: np.random.Generator, days: int, sd: float
               ) -> tuple[list[pd.DataFrame], list[np.ndarray]]:
    """Day-ahead frames whose bands assume unit-variance errors; actuals have ``sd``."""
    frames, actuals = [], []
    for _ in range(days):
        mean = 100 + rng.normal(size=48)
        frame = pd.DataFrame({"mean": mean})
        for lv in (80, 95):
            half = norm.ppf(0.5 + lv / 200)
            frame[f"lo_{lv}"], frame[f"hi_{lv}"] = mean - half, mean + half
        frames.append(frame)
        actuals.append(mean + rng.normal(0, sd, size=48))
    return frames, actuals


def coverage(frames: list[pd.DataFrame], actuals: list[np.ndarray], lv: int) -> float:
    return float(np.mean(np.concatenate([(a >= f[f"lo_{lv}"]) & (a <= f[f"hi_{lv}"])
                                         for f, a in zip(frames, actuals, strict=True)])))


def test_narrow_intervals_widened_on_validation_cover_later_days() -> None:
    rng = np.random.default_rng(7)
    validation, later = frames_for(rng, 7, sd=1.4), frames_for(rng, 30, sd=1.4)
    assert coverage(*later, 95) < 0.9  # too narrow as they come
    scales = choose_scales(*validation)
    assert 1.2 <= scales[95] <= 1.6 and scales[80] > 1.0
    widened = [apply_scales(f, scales) for f in later[0]]
    assert 0.93 <= coverage(widened, later[1], 95) <= 0.98
    assert 0.75 <= coverage(widened, later[1], 80) <= 0.86
    np.testing.assert_allclose(widened[0]["mean"], later[0][0]["mean"])


def test_well_calibrated_intervals_are_left_alone_and_wide_ones_narrowed() -> None:
    assert choose_scales(*frames_for(np.random.default_rng(3), 14, sd=1.0)) == {80.0: 1.0,
                                                                               95.0: 1.0}
    rng = np.random.default_rng(4)
    validation, later = frames_for(rng, 7, sd=0.7), frames_for(rng, 30, sd=0.7)
    assert coverage(*later, 95) > 0.99
    scales = choose_scales(*validation)
    assert scales[95] in (0.7, 0.8)
    narrowed = [apply_scales(f, scales) for f in later[0]]
    assert 0.93 <= coverage(narrowed, later[1], 95) <= 0.985


def test_the_largest_factor_when_none_suffices() -> None:
    scales = choose_scales(*frames_for(np.random.default_rng(5), 5, sd=10.0), grid=(1.0, 1.5))
    assert scales[95.0] == 1.5


def test_bad_inputs_name_the_row() -> None:
    frames, actuals = frames_for(np.random.default_rng(1), 3, sd=1.0)
    with pytest.raises(InvalidInput, match="one actual per forecast"):
        choose_scales(frames, actuals[:2])
    with pytest.raises(InvalidInput, match="actual 1") as err:
        choose_scales(frames, [actuals[0], actuals[1][:5], actuals[2]])
    assert err.value.row == 1
    with pytest.raises(InvalidInput, match="forecast 2 lacks"):
        choose_scales([*frames[:2], frames[2].drop(columns="hi_95")], actuals)
    with pytest.raises(InvalidInput, match="positive"):
        apply_scales(frames[0], {95.0: -1.0})

"""Live recalibration: a steady bias in the actuals is corrected and 95 % coverage comes back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from models.errors import InvalidInput
from models.forecasting.calibration import OnlineCalibrator

HOURS, SHIFT = 24 * 12, 24 * 5


def simulated(rng: np.random.Generator, bias: float = 2.0, rho: float = 0.5
              ) -> tuple[pd.DataFrame, pd.Series]:
    """Hourly forecasts with well-calibrated intervals for AR(1) errors; from hour SHIFT on the
    actuals carry a steady bias of ``bias`` standard deviations."""
    index = pd.date_range("2024-03-01", periods=HOURS, freq="1h", tz="UTC")
    errors = np.empty(HOURS)
    errors[0] = rng.normal()
    for t in range(1, HOURS):
        errors[t] = rho * errors[t - 1] + rng.normal(0, np.sqrt(1 - rho ** 2))
    level = 50 + 10 * np.sin(2 * np.pi * np.arange(HOURS) / 24)
    frame = pd.DataFrame({"mean": level}, index=index)
    for lv in (80, 95):
        half = norm.ppf(0.5 + lv / 200)
        frame[f"lo_{lv}"], frame[f"hi_{lv}"] = level - half, level + half
    actual = level + errors + np.where(np.arange(HOURS) >= SHIFT, bias, 0.0)
    return frame, pd.Series(actual, index=index)


def rolling_24h(hits: list[np.ndarray]) -> np.ndarray:
    """Per hour, the share of the trailing 24 hours covered, averaged over the paths."""
    return np.mean([np.convolve(h, np.ones(24) / 24, mode="valid") for h in hits], axis=0)


def test_steady_bias_coverage_returns_within_two_days() -> None:
    rng = np.random.default_rng(2024)
    calibrated, raw = [], []
    for _ in range(60):
        frame, actual = simulated(rng)
        cal = OnlineCalibrator().update(frame, actual)
        calibrated.append(cal.hits[95])
        raw.append(((actual >= frame["lo_95"]) & (actual <= frame["hi_95"])).to_numpy())
    cov, untouched = rolling_24h(calibrated), rolling_24h(raw)
    first_full_window = SHIFT - 23  # rolling index k is the window ending at hour k + 23
    two_days_on = SHIFT + 48 - 23
    assert untouched[first_full_window + 24:].max() < 0.6  # the bias alone breaks coverage
    assert cov[:first_full_window].min() > 0.9          # and before it, nothing was broken
    after = cov[two_days_on:]
    assert after.min() >= 0.90 and after.max() <= 0.98, (after.min(), after.max())


def test_bias_is_learnt_and_added_to_the_mean() -> None:
    frame, actual = simulated(np.random.default_rng(1), bias=3.0)
    cal = OnlineCalibrator().update(frame, actual)
    assert cal.bias == pytest.approx(3.0, abs=0.8)
    adjusted = cal.adjust(frame.iloc[-24:])
    np.testing.assert_allclose(adjusted["mean"], frame["mean"].iloc[-24:] + cal.bias)
    assert (adjusted["lo_95"] < adjusted["lo_80"]).all()
    assert (adjusted["lo_80"] < adjusted["mean"]).all() and (adjusted["mean"] < adjusted["hi_80"]).all()


def test_too_narrow_intervals_are_widened() -> None:
    frame, actual = simulated(np.random.default_rng(3), bias=0.0)
    narrow = frame.copy()
    for lv in (80, 95):
        narrow[f"lo_{lv}"] = frame["mean"] - 0.5 * (frame["mean"] - frame[f"lo_{lv}"])
        narrow[f"hi_{lv}"] = frame["mean"] + 0.5 * (frame[f"hi_{lv}"] - frame["mean"])
    cal = OnlineCalibrator().update(narrow, actual)
    assert cal.scales[95] > 1.5
    assert cal.hits[95][-24 * 5:].mean() > 0.88


def test_state_is_plain_json_and_resumes_exactly() -> None:
    frame, actual = simulated(np.random.default_rng(4))
    cal = OnlineCalibrator().update(frame.iloc[:200], actual.iloc[:200])
    state = json.loads(json.dumps(cal.state()))
    resumed = OnlineCalibrator.from_state(state)
    pd.testing.assert_frame_equal(resumed.adjust(frame.iloc[200:]), cal.adjust(frame.iloc[200:]))
    resumed.update(frame.iloc[200:], actual.iloc[200:])
    cal.update(frame.iloc[200:], actual.iloc[200:])
    assert resumed.state() == cal.state()
    assert resumed.coverage() == cal.coverage()


@pytest.mark.parametrize(("state", "match"), [
    ({"format": "other"}, "not a calibrator state"),
    ({"format": "solchain-calibrator/1", "levels": [95]}, "lacks 'learning_rate'"),
    ("text", "not a calibrator state"),
])
def test_bad_state_is_a_clear_error(state: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        OnlineCalibrator.from_state(state)  # type: ignore[arg-type]


def test_bad_state_value_names_it() -> None:
    state = OnlineCalibrator().state()
    state["bias"] = float("nan")
    with pytest.raises(InvalidInput, match="bias"):
        OnlineCalibrator.from_state(state)


def test_bad_frames_and_actuals_name_the_row() -> None:
    frame, actual = simulated(np.random.default_rng(5))
    cal = OnlineCalibrator()
    with pytest.raises(InvalidInput, match="missing column 'hi_95'"):
        cal.update(frame.drop(columns="hi_95"), actual)
    broken = frame.copy()
    broken.iloc[7, broken.columns.get_loc("lo_80")] = np.nan
    with pytest.raises(InvalidInput, match="'lo_80' is not finite at 2024-03-01 07:00"):
        cal.update(broken, actual)
    bad = actual.astype(object)
    bad.iloc[3] = "n/a"
    with pytest.raises(InvalidInput, match="not a finite number at 2024-03-01 03:00"):
        cal.update(frame, bad)
    with pytest.raises(InvalidInput, match="learning_rate"):
        OnlineCalibrator(learning_rate=0)
    assert cal.updates == 0  # nothing was learnt from the rejected inputs

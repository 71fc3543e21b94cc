"""Each detector on its own, and the ensemble's contract and bad-input handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.anomaly import (
    OUTPUT,
    AnomalyDetector,
    IsolationForestDetector,
    OneClassSVMDetector,
    PatternBreakDetector,
    RobustZScore,
    change_points,
)
from models.errors import InvalidInput, NotFittedError


def _gauss(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"z": rng.normal(size=n), "z_local": rng.normal(size=n),
                         "pv_z": rng.normal(size=n), "flat": np.zeros(n),
                         "meter_id": "m"})


def test_robust_zscore_threshold_is_three_mads() -> None:
    det = RobustZScore().fit(_gauss())
    probe = pd.DataFrame({"z": [0.0, 2.5, 3.5, -4.0], "pv_z": [0.0, 0.0, 0.0, 0.0]})
    assert list(det.score(probe) >= 1) == [False, False, True, True]


@pytest.mark.parametrize("cls", [IsolationForestDetector, OneClassSVMDetector])
def test_learned_detectors_flag_outliers_at_about_contamination(cls) -> None:
    det = cls().fit(_gauss())
    clean = det.score(_gauss(seed=1)) >= 1
    assert 0.01 <= clean.mean() <= 0.12
    far = _gauss(5, seed=2).assign(z=12.0, z_local=-12.0, pv_z=8.0)
    assert (det.score(far) >= 1).all()


@pytest.mark.parametrize("cls", [RobustZScore, IsolationForestDetector, OneClassSVMDetector,
                                 PatternBreakDetector])
def test_score_before_fit_raises(cls) -> None:
    with pytest.raises(NotFittedError):
        cls().score(_gauss(10))


def test_change_points_find_a_mean_shift() -> None:
    x = np.r_[np.zeros(100), np.full(60, 5.0), np.zeros(100)]
    x += np.random.default_rng(0).normal(0, 0.5, x.size)
    starts = change_points(x, 12, 3 * np.log(x.size))
    assert any(abs(s - 100) <= 2 for s in starts) and any(abs(s - 160) <= 2 for s in starts)


def test_pattern_break_flags_a_shifted_regime_not_noise() -> None:
    det = PatternBreakDetector().fit(_gauss())
    x = _gauss(400, seed=3)
    x.loc[200:279, "z"] -= 9.0
    flags = det.score(x) >= 1
    assert flags[200:280].mean() > 0.9 and flags[:190].mean() < 0.05
    assert (det.segments_.loc[210:270, "segment_len"] >= 24).all()


def test_detect_returns_the_schema(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    test.loc[5, "consumption_kwh"] *= 5
    found = fitted.detect(test)
    assert list(found.columns) == list(OUTPUT) and len(found) >= 1
    assert found["severity"].isin(["low", "medium", "high", "critical"]).all()
    assert found["score"].between(0, 1).all() and found["confidence"].between(0, 1).all()


def test_detect_before_fit_raises(split) -> None:
    with pytest.raises(NotFittedError):
        AnomalyDetector().detect(split[1])


def test_unsorted_input_gives_the_same_result(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    test.loc[7, "consumption_kwh"] *= 5
    shuffled = test.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(fitted.detect(test), fitted.detect(shuffled))


@pytest.mark.parametrize(("edit", "field"), [
    (lambda f: f.drop(columns="production_kwh"), "production_kwh"),
    (lambda f: f.assign(ts=["not a time", *list(f["ts"].iloc[1:])]), "ts"),
    (lambda f: f.assign(consumption_kwh=["x", *list(f["consumption_kwh"].iloc[1:])]),
     "consumption_kwh"),
    (lambda f: f.iloc[:0], "frame"),
])
def test_bad_frames_raise_invalid_input(fitted: AnomalyDetector, split, edit, field) -> None:
    with pytest.raises(InvalidInput) as err:
        fitted.detect(edit(split[1].copy()))
    assert err.value.field == field


def test_too_short_history_raises(split) -> None:
    short = split[0].groupby("meter_id").head(20)
    with pytest.raises(InvalidInput, match="no meter has 96 clean readings"):
        AnomalyDetector().fit(short)


def test_meter_without_history_uses_population_profile(fitted: AnomalyDetector, split) -> None:
    new = split[1][split[1]["meter_id"] == "m001"].assign(meter_id="new", production_kwh=0.0)
    new = new.reset_index(drop=True)
    new.loc[120, "consumption_kwh"] *= 5
    found = fitted.detect(new)
    assert "consumption_spike" in set(found.loc[found["ts"] == new.loc[120, "ts"], "type"])
    assert len(found) < 0.03 * len(new)


def test_history_with_nan_rows_is_usable(split) -> None:
    hist = split[0].copy()
    hist.loc[::50, "consumption_kwh"] = np.nan
    det = AnomalyDetector(detectors=("zscore", "pattern"), min_votes=2).fit(hist)
    assert len(det.detect(split[1])) < 0.02 * len(split[1])


def test_voting_is_configurable(fitted: AnomalyDetector, split) -> None:
    loose = AnomalyDetector(min_votes=0.5).fit(split[0])
    assert len(loose.detect(split[1])) > len(fitted.detect(split[1]))
    with pytest.raises(InvalidInput, match="unknown detector"):
        AnomalyDetector(detectors=("nope",)).fit(split[0])

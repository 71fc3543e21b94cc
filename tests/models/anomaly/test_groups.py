"""Detection and fitting over groups of meters give what one detector over the zone gives."""

from __future__ import annotations

import pandas as pd
import pytest
from pmdarima.datasets import load_taylor

from models.anomaly import AnomalyDetector
from models.anomaly.groups import (
    common_step,
    finish_group,
    fit_groups,
    for_meters,
    learn_group,
    vote_group,
    zone_crowd,
)
from models.anomaly.inject import inject_anomalies, meters_from_load
from models.errors import InvalidInput


@pytest.fixture(scope="module")
def zone() -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    frame = meters_from_load(load_taylor(), n_meters=24, weeks=3, pv_share=0.5, seed=11)
    since = frame["ts"].min() + pd.Timedelta(weeks=2)
    history = frame[frame["ts"] < since].reset_index(drop=True)
    test, _ = inject_anomalies(frame[frame["ts"] >= since].reset_index(drop=True), since=since,
                               seed=4)
    return history, test, since


def _groups(frame: pd.DataFrame, size: int) -> list[list[str]]:
    meters = sorted(frame["meter_id"].astype(str).unique())
    return [meters[i:i + size] for i in range(0, len(meters), size)]


def _detect_in_groups(detector: AnomalyDetector, frame: pd.DataFrame, size: int) -> pd.DataFrame:
    voted = []
    for meters in _groups(frame, size):
        part = for_meters(detector, meters)
        voted.append((part, *vote_group(part, frame[frame["meter_id"].isin(meters)])))
    zone = zone_crowd(c for _, _, c in voted)
    found = [finish_group(points, zone, part.rules) for part, points, _ in voted]
    return pd.concat(found).sort_values(["ts", "meter_id"]).reset_index(drop=True)


@pytest.mark.parametrize("size", [1, 5, 24])
def test_detection_in_groups_equals_detection_over_the_zone(zone, size) -> None:  # type: ignore[no-untyped-def]
    history, test, _ = zone
    detector = AnomalyDetector().fit(history)
    whole = detector.detect(test)
    assert len(whole) > 0 and (whole["type"] == "cyber_attack").any()  # the crowd rule is exercised
    pd.testing.assert_frame_equal(_detect_in_groups(detector, test, size), whole)


def test_the_crowd_decides_cyber_attacks_across_groups(zone) -> None:  # type: ignore[no-untyped-def]
    history, test, _ = zone
    detector = AnomalyDetector().fit(history)
    meters = _groups(test, 1)
    alone = [finish_group(*vote_group(for_meters(detector, m), test[test["meter_id"].isin(m)]))
             for m in meters]  # each meter's own crowd: one meter never makes an attack
    assert not any((a["type"] == "cyber_attack").any() for a in alone)
    assert (_detect_in_groups(detector, test, 1)["type"] == "cyber_attack").any()


def test_fitting_in_groups_without_sampling_equals_the_zone_fit(zone) -> None:  # type: ignore[no-untyped-def]
    history, test, _ = zone
    params = AnomalyDetector()
    parts = [learn_group(params, history[history["meter_id"].isin(m)]) for m in _groups(history, 7)]
    step = common_step(parts)
    assert step == pd.Timedelta(minutes=30)
    grouped = fit_groups(AnomalyDetector(), parts)
    whole = AnomalyDetector().fit(history)
    assert grouped.profiles_.keys() == whole.profiles_.keys()
    pd.testing.assert_frame_equal(grouped.detect(test), whole.detect(test))


def test_a_sampled_fit_keeps_every_profile_and_at_most_max_rows_per_group(zone) -> None:  # type: ignore[no-untyped-def]
    history, test, _ = zone
    parts = [learn_group(AnomalyDetector(), history[history["meter_id"].isin(m)], max_rows=500)
             for m in _groups(history, 6)]
    assert all(len(p.features) == 500 for p in parts)
    again = learn_group(AnomalyDetector(), history[history["meter_id"].isin(_groups(history, 6)[0])],
                        max_rows=500)
    pd.testing.assert_frame_equal(again.features, parts[0].features)  # the same sample each time
    fitted = fit_groups(AnomalyDetector(), parts)
    assert len(fitted.profiles_) == history["meter_id"].nunique()
    found = fitted.detect(test)
    assert len(found) > 0


def test_groups_with_different_steps_are_refused(zone) -> None:  # type: ignore[no-untyped-def]
    history, _, _ = zone
    one, two = _groups(history, 12)
    coarse = history[history["meter_id"].isin(two) & (history["ts"].dt.minute == 0)]
    parts = [learn_group(AnomalyDetector(), history[history["meter_id"].isin(one)]),
             learn_group(AnomalyDetector(), coarse)]
    with pytest.raises(InvalidInput, match="different reading steps"):
        fit_groups(AnomalyDetector(), parts)
    assert common_step(parts) == pd.Timedelta(minutes=30)
    relearned = learn_group(AnomalyDetector(), coarse, step=common_step(parts))
    assert relearned.step == pd.Timedelta(minutes=30)


def test_no_group_with_enough_history_is_refused_naming_the_longest(zone) -> None:  # type: ignore[no-untyped-def]
    history, _, _ = zone
    short = history[history["ts"] < history["ts"].min() + pd.Timedelta(hours=10)]
    parts = [learn_group(AnomalyDetector(), short[short["meter_id"].isin(m)]) for m in _groups(short, 12)]
    with pytest.raises(InvalidInput, match=r"no meter has 96 clean readings \(longest: 20\)"):
        fit_groups(AnomalyDetector(), parts)

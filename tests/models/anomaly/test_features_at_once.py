"""Features of many meters at once equal the meter-by-meter ones, value for value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.anomaly import AnomalyDetector
from models.anomaly.ensemble import _features, _features_meter_by_meter
from models.anomaly.inject import inject_anomalies
from models.anomaly.points import fallback_profile, meters_features
from models.anomaly.readings import validate_readings


def _both(det: AnomalyDetector, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = validate_readings(frame, name="frame")
    df = df[df["corruption"] != "duplicate"]
    profiles = {m: det.profiles_.get(m) or fallback_profile(rows, det.population_, det.step_)
                for m, rows in df.groupby("meter_id", sort=False)}
    direct = meters_features(df, list(profiles.values()), det.step_)
    assert direct is not None  # every meter at once, no fallback to the loop
    at_once = _features(df, det.profiles_, det.step_, det.population_)
    pd.testing.assert_frame_equal(at_once.drop(columns="meter_id"), direct)
    by_meter = _features_meter_by_meter(df, profiles, det.step_)
    by_meter["meter_id"] = df["meter_id"]
    return at_once, by_meter


def test_at_once_equals_meter_by_meter_with_pv_irradiance_gaps_and_new_meters(
        split: tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]) -> None:
    history, test, since = split
    det = AnomalyDetector().fit(history[history["meter_id"] != history["meter_id"].iloc[0]])
    injected, _ = inject_anomalies(test, since=since, seed=4)
    injected.loc[injected.index[::97], "consumption_kwh"] = np.nan  # missing values, too
    assert "ghi_wm2" in injected
    at_once, by_meter = _both(det, injected)  # the first meter has no profile: the fallback
    pd.testing.assert_frame_equal(at_once, by_meter)
    assert at_once["pv_z"].abs().gt(0).any() and at_once["flat_run"].gt(1).any()
    at_once, by_meter = _both(det, injected.drop(columns="ghi_wm2"))  # PV unknown
    pd.testing.assert_frame_equal(at_once, by_meter)
    one_hour = injected[injected["ts"] == injected["ts"].max()]  # the daemon's tick: 1 row a meter
    pd.testing.assert_frame_equal(*_both(det, one_hour))


def test_meters_whose_rows_are_not_together_are_left_to_the_caller(
        fitted: AnomalyDetector, split: tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]) -> None:
    rows = split[1].sort_values(["ts", "meter_id"]).reset_index(drop=True)
    profiles = [fitted.profiles_[m] for m in pd.unique(rows["meter_id"])]
    assert meters_features(rows, profiles, fitted.step_) is None
    together = rows.sort_values(["meter_id", "ts"])
    assert meters_features(together, profiles[:-1], fitted.step_) is None  # one profile short

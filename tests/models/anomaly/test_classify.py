"""Each typing rule end to end: plant one anomaly in a clean real-load week, check its type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.anomaly import ACTIONS, TYPES, AnomalyDetector
from models.anomaly.classify import severity


def _rows(test: pd.DataFrame, meter: str, start: int, n: int) -> pd.Index:
    return test.index[test["meter_id"] == meter][start:start + n]


def _types(found: pd.DataFrame, test: pd.DataFrame, rows: pd.Index) -> set[str]:
    keys = set(zip(test.loc[rows, "meter_id"], test.loc[rows, "ts"], strict=True))
    hit = found[[k in keys for k in zip(found["meter_id"], found["ts"], strict=True)]]
    return set(hit["type"])


def test_clean_week_has_few_false_alarms(fitted: AnomalyDetector, split) -> None:
    found = fitted.detect(split[1])
    assert len(found) <= 0.01 * len(split[1])


@pytest.mark.parametrize(("edit", "n", "expected"), [
    (lambda c: c * 4.0, 1, "consumption_spike"),
    (lambda c: c * 0.1, 3, "consumption_drop"),
    (lambda c: c * 0.0, 6, "meter_tampering"),
    (lambda c: np.full_like(c, c[0]), 10, "meter_tampering"),
    (lambda c: -c, 3, "meter_tampering"),
    (lambda c: c * 0.4, 60, "meter_tampering"),
])
def test_consumption_rules(fitted: AnomalyDetector, split, edit, n: int, expected: str) -> None:
    test = split[1].copy()
    rows = _rows(test, "m001", 100, n)
    test.loc[rows, "consumption_kwh"] = edit(test.loc[rows, "consumption_kwh"].to_numpy())
    found = fitted.detect(test)
    assert _types(found, test, rows) == {expected}


def test_tampering_reasons_are_distinct(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    zero = _rows(test, "m001", 100, 6)
    flat = _rows(test, "m003", 200, 10)
    scale = _rows(test, "m004", 50, 60)
    test.loc[zero, "consumption_kwh"] = 0.0
    test.loc[flat, "consumption_kwh"] = test.loc[flat[0], "consumption_kwh"]
    test.loc[scale, "consumption_kwh"] *= 2.5
    found = fitted.detect(test).set_index(["meter_id", "ts"])
    reason = {r: set(found.loc[[(test.loc[i, "meter_id"], test.loc[i, "ts"]) for i in rows],
                                "reason"]) for r, rows in
              (("zero", zero), ("flat", flat), ("scale", scale))}
    assert reason == {"zero": {"zeroed"}, "flat": {"flat_line"}, "scale": {"scale_change"}}


def _sunny_rows(test: pd.DataFrame, meter: str, n: int, day: int) -> pd.Index:
    idx = test.index[(test["meter_id"] == meter) & (test["ghi_wm2"] > 500)
                     & (test["ts"].dt.dayofyear == test["ts"].dt.dayofyear.min() + day)]
    return idx[:n]


def test_pv_yield_loss_is_production_anomaly(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    rows = _sunny_rows(test, "m000", 4, day=1)
    test.loc[rows, "production_kwh"] *= 0.2
    assert _types(fitted.detect(test), test, rows) == {"production_anomaly"}


def test_persistent_pv_loss_is_equipment_failure(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    rows = test.index[(test["meter_id"] == "m002") & (test["ts"] >= test["ts"].min()
                      + pd.Timedelta(days=1)) & (test["ts"] < test["ts"].min()
                      + pd.Timedelta(days=3))]
    test.loc[rows, "production_kwh"] *= 0.1
    sunny = rows[test.loc[rows, "ghi_wm2"] > 300]
    assert _types(fitted.detect(test), test, sunny) == {"equipment_failure"}


def test_coordinated_spike_is_cyber_attack(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    ts = test["ts"].unique()[150]
    rows = test.index[(test["ts"] == ts) & test["meter_id"].isin([f"m00{i}" for i in range(6)])]
    test.loc[rows, "consumption_kwh"] *= 4.0
    found = fitted.detect(test)
    assert _types(found, test, rows) == {"cyber_attack"}
    assert set(found.loc[found["type"] == "cyber_attack", "severity"]) == {"critical"}


def test_corruption_rules(fitted: AnomalyDetector, split) -> None:
    test = split[1].copy()
    test.loc[_rows(test, "m001", 10, 1), "consumption_kwh"] = np.nan
    test.loc[_rows(test, "m002", 10, 1), "consumption_kwh"] = 1e5
    dup = test.loc[_rows(test, "m003", 10, 1)].assign(consumption_kwh=9.0)
    gap = _rows(test, "m004", 10, 2)
    after = test.loc[_rows(test, "m004", 12, 1), "ts"].iloc[0]
    test = pd.concat([test.drop(index=gap), dup])
    found = fitted.detect(test)
    corrupt = found[found["type"] == "data_corruption"]
    assert sorted(corrupt["reason"]) == ["duplicate", "impossible_value", "missing_value",
                                         "timestamp_gap"]
    assert corrupt.loc[corrupt["reason"] == "timestamp_gap", "ts"].iloc[0] == after


def test_every_type_has_an_action_and_severity_escalates() -> None:
    assert set(ACTIONS) == set(TYPES) and all(ACTIONS.values())
    kind = pd.Series(["consumption_spike"] * 3 + ["meter_tampering"] * 2 + ["cyber_attack"])
    reason = pd.Series(["high_consumption"] * 3 + ["flat_line", "reversed", "coordinated"])
    z = pd.Series([4.0, 8.0, 20.0, 0.0, 0.0, 5.0])
    run = pd.Series([1, 1, 1, 10, 2, 1])
    assert list(severity(kind, reason, z, run)) == ["low", "medium", "high", "high", "critical",
                                                    "critical"]

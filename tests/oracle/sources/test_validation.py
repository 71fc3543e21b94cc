"""Plausibility rules: each implausible reading is quarantined with its reason; the rest pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oracle.sources.schemas import MeterIn, ReadingIn
from oracle.sources.validation import DuplicateTracker, PlausibilityRules, check_readings

T0 = datetime(2024, 3, 4, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
METERS = {"pv": MeterIn(meter_id="pv", user_id="u", node_id="n", kind="prosumer", pv_kwp=4.0,
                        storage_kwh=0.0),
          "home": MeterIn(meter_id="home", user_id="u2", node_id="n", kind="consumer",
                          pv_kwp=0.0, storage_kwh=0.0)}


def reading(meter: str = "pv", ts: datetime = T0, consumption: float = 0.4,
            production: float = 1.0) -> ReadingIn:
    return ReadingIn(meter_id=meter, ts=ts, consumption_kwh=consumption,
                     production_kwh=production)


@pytest.mark.parametrize(("bad", "field", "reason"), [
    (reading(consumption=-0.1), "consumption_kwh", "negative energy"),
    (reading(production=-2.0), "production_kwh", "negative energy"),
    (reading(production=4.0 * 1.25 + 0.01), "production_kwh", "exceeds"),
    (reading("home", production=0.2), "production_kwh", "0 kWp"),
    (reading(consumption=61.0), "consumption_kwh", "connection"),
    (reading(ts=NOW), "ts", "future"),
    (reading(ts=NOW + timedelta(days=300)), "ts", "future"),
    (reading(ts=T0 + timedelta(minutes=30)), "ts", "interval grid"),
    (reading(ts=T0 - timedelta(days=3)), "ts", "outside the requested window"),
    (reading("ghost"), "meter_id", "unknown meter"),
])
def test_implausible_readings_are_quarantined(bad: ReadingIn, field: str, reason: str) -> None:
    good = reading(ts=T0 + timedelta(hours=1))
    checked = check_readings([good, bad], METERS, now=NOW, window=(T0 - timedelta(days=1), NOW))
    assert checked.valid == [good]
    (rejected,) = checked.rejected
    assert rejected.field == field and reason in rejected.reason and rejected.row == 1
    assert rejected.as_row()["payload"]["meter_id"] == bad.meter_id


def test_plausible_readings_pass_including_full_sun_and_zero() -> None:
    rows = [reading(production=5.0), reading("home", T0 + timedelta(hours=1), 2.5, 0.0),
            reading(ts=NOW - timedelta(hours=1), consumption=0.0, production=0.0)]
    checked = check_readings(rows, METERS, now=NOW)
    assert checked.valid == rows and checked.rejected == []


def test_conflicting_duplicates_are_all_quarantined_and_exact_repeats_kept_once() -> None:
    same = [reading(), reading()]
    conflicting = [reading("home", consumption=1.0, production=0.0),
                   reading("home", consumption=2.0, production=0.0)]
    checked = check_readings([*same, *conflicting], METERS, now=NOW)
    assert checked.valid == [reading()]
    assert [r.row for r in checked.rejected] == [2, 3]
    assert all("different values" in r.reason for r in checked.rejected)


def test_a_later_page_disagreeing_with_an_earlier_one_is_quarantined() -> None:
    seen = DuplicateTracker()
    first = check_readings([reading()], METERS, now=NOW, seen=seen)
    again = check_readings([reading(), reading(production=0.5)], METERS, now=NOW, seen=seen)
    later = check_readings([reading(production=0.5)], METERS, now=NOW, seen=seen)
    assert first.valid == [reading()]
    assert [r.row for r in again.rejected] == [0, 1]  # conflicting within the page
    assert later.valid == [] and "accepted earlier" in later.rejected[0].reason


def test_rules_follow_the_interval() -> None:
    quarter = PlausibilityRules(interval_s=900)
    ts = T0 + timedelta(minutes=15)
    ok = check_readings([reading(ts=ts, production=1.25)], METERS, rules=quarter, now=NOW)
    too_much = check_readings([reading(ts=ts, production=1.26)], METERS, rules=quarter, now=NOW)
    assert len(ok.valid) == 1 and too_much.rejected[0].field == "production_kwh"

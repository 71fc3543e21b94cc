"""Plausibility rules: each implausible reading is quarantined with its reason; the rest pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oracle.sources.schemas import MeterIn, OrderIn, ReadingIn
from oracle.sources.validation import (
    DuplicateTracker,
    PlausibilityRules,
    check_meters,
    check_orders,
    check_readings,
    known_meters,
)

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


# ---------------------------------------------------------------- meters and orders


def meter(meter_id: str, node: str = "n", **change: object) -> MeterIn:
    return MeterIn(**{"meter_id": meter_id, "user_id": "u", "node_id": node, "kind": "consumer",
                      "pv_kwp": 0.0, "storage_kwh": 0.0, **change})


def order(order_id: str = "o1", meter_id: str = "home", node: str = "n", **change: object
          ) -> OrderIn:
    return OrderIn(**{"order_id": order_id, "user_id": "u2", "meter_id": meter_id,
                      "node_id": node, "side": "bid", "quantity_kwh": 1.0, "limit_price": 0.2,
                      "ts": T0, **change})


def test_meters_on_unknown_nodes_or_listed_twice_differently_are_quarantined() -> None:
    listed = [meter("a"), meter("b", "n9"), meter("c"), meter("c", pv_kwp=3.0), meter("a")]
    checked = check_meters(listed, {"n"})
    assert [m.meter_id for m in checked.valid] == ["a"]  # an exact repeat is kept once
    reasons = {(r.row, r.field): r.reason for r in checked.rejected}
    assert "not in /api/v1/grid" in reasons[(1, "node_id")]
    assert "more than once" in reasons[(2, "meter_id")] and (3, "meter_id") in reasons
    assert check_meters(listed[:2], None).valid == listed[:2]  # grid unknown: nodes not checked


@pytest.mark.parametrize(("bad", "field", "reason"), [
    (order(meter_id="ghost"), "meter_id", "unknown meter"),
    (order(node="n9"), "node_id", "not in /api/v1/grid"),
    (order(meter_id="pv", node="m"), "node_id", "is not meter pv's node n"),
    (order("old"), "order_id", "already stored for the interval"),
])
def test_orders_that_do_not_fit_the_meters_and_grid_are_quarantined(bad: OrderIn, field: str,
                                                                     reason: str) -> None:
    good = order("ok")
    checked = check_orders([good, bad], METERS, {"n", "m"}, interval_start=T0,
                           stored={"old": T0 - timedelta(hours=1), "ok": T0})
    assert checked.valid == [good]
    (rejected,) = checked.rejected
    assert rejected.field == field and reason in rejected.reason and rejected.row == 1


def test_an_order_listed_twice_with_different_values_is_quarantined_not_last_wins() -> None:
    checked = check_orders([order(), order(quantity_kwh=9.0), order("o2"), order("o2")], METERS,
                           None, interval_start=T0)
    assert [o.order_id for o in checked.valid] == ["o2"]
    assert [r.row for r in checked.rejected] == [0, 1]


def test_an_empty_or_shrunken_meter_list_falls_back_to_the_stored_meters() -> None:
    stored = [meter(f"m{i}") for i in range(4)]
    assert known_meters([], []) == ({}, None)
    fresh, why = known_meters(stored[:2], stored)
    assert set(fresh) == {"m0", "m1"} and why is None  # half the meters: believed
    for listed in ([], stored[:1]):
        meters, why = known_meters(listed, stored)
        assert set(meters) == {"m0", "m1", "m2", "m3"} and "4 stored meters" in (why or "")
    updated = meter("m0", pv_kwp=2.0)
    assert known_meters([updated], stored)[0]["m0"] == updated  # the list still updates

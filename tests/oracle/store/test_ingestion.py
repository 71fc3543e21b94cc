"""Ingestion repository on SQLite and PostgreSQL: atomic pages, quarantine, cursor, gaps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from oracle.store import ingestion as repo
from oracle.store.engine import session_scope
from oracle.store.tables import (
    MarketOrder,
    QuarantinedRow,
    Reading,
    ReadingGap,
    WeatherForecast,
    WeatherObservation,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
H = timedelta(hours=1)
FLEET = 70_000  # meters: past SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def rows(meter: str, hours: Iterable[int], value: float = 1.0) -> list[dict[str, Any]]:
    return [{"meter_id": meter, "ts": T0 + h * H, "consumption_kwh": value,
             "production_kwh": 0.0} for h in hours]


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


REJECTED = {"source": "readings", "row_key": "m1|2026-01-05T03:00:00+00:00",
            "field": "consumption_kwh", "value": "-1.0", "reason": "negative energy",
            "payload": {"meter_id": "m1", "consumption_kwh": -1.0}}


def test_batch_stores_rows_quarantine_and_cursor_together(engine: Engine) -> None:
    walk = repo.Walk(T0, T0 + 24 * H, "p100")
    assert repo.store_readings_batch(engine, rows("m1", [0, 1, 2]), [REJECTED], walk=walk) == 3
    assert count(engine, "readings") == 3
    with session_scope(engine) as s:
        (q,) = s.execute(select(QuarantinedRow)).all()
    assert (q[0].field, q[0].reason, q[0].payload["consumption_kwh"]) == (
        "consumption_kwh", "negative energy", -1.0)
    state = repo.load_cursor(engine, "readings")
    assert state.walk == walk and state.watermark is None


def test_failed_batch_changes_nothing(engine: Engine) -> None:
    first = repo.Walk(T0, T0 + 24 * H, "p3")
    repo.store_readings_batch(engine, rows("m1", [0, 1, 2]), [], walk=first)
    broken: list[dict[str, Any]] = [*rows("m1", [0, 3], value=9.0), {"meter_id": "m9", "ts": None,
                                               "consumption_kwh": 1.0}]
    with pytest.raises(IntegrityError):
        repo.store_readings_batch(engine, broken, [REJECTED],
                                  walk=repo.Walk(T0, T0 + 24 * H, "p6"))
    assert count(engine, "readings") == 3 and count(engine, "quarantine") == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT MAX(consumption_kwh) FROM readings")).scalar_one() == 1
    assert repo.load_cursor(engine, "readings").walk == first


def test_same_batch_twice_is_idempotent(engine: Engine) -> None:
    for _ in range(2):
        repo.store_readings_batch(engine, rows("m1", [0, 1]) + rows("m2", [0]), [])
    assert count(engine, "readings") == 3


def test_watermark_advances_and_never_rewinds(engine: Engine) -> None:
    repo.store_readings_batch(engine, [], [], walk=repo.Walk(T0, T0 + 5 * H, "p1"))
    repo.finish_walk(engine, "readings", T0 + 5 * H)
    repo.finish_walk(engine, "readings", T0 + 2 * H)
    state = repo.load_cursor(engine, "readings")
    assert state.walk is None and state.watermark == T0 + 5 * H


def test_gaps_are_found_recorded_and_cleared_when_filled(engine: Engine) -> None:
    repo.store_readings_batch(engine, rows("m1", [0, 1, 4, 5, 7]) + rows("m2", range(8)), [])
    gaps = repo.record_gaps(engine, ["m1", "m2", "m3"], T0, T0 + 8 * H)
    found = {(g.meter_id, g.start, g.end, g.intervals) for g in gaps}
    assert found == {("m1", T0 + 2 * H, T0 + 4 * H, 2), ("m1", T0 + 6 * H, T0 + 7 * H, 1),
                     ("m3", T0, T0 + 8 * H, 8)}
    assert count(engine, "reading_gaps") == 3
    # Late data fills one gap; re-detection over a window that only touches it clears it.
    repo.store_readings_batch(engine, rows("m1", [2, 3]), [])
    repo.record_gaps(engine, ["m1", "m2", "m3"], T0 + 3 * H, T0 + 8 * H)
    with session_scope(engine) as s:
        stored = {(g.meter_id, g.gap_start.replace(tzinfo=UTC), g.intervals)
                  for (g,) in s.execute(select(ReadingGap))}
    assert stored == {("m1", T0 + 6 * H, 1), ("m3", T0, 8)}


def test_gaps_start_at_a_meters_first_reading(engine: Engine) -> None:
    repo.store_readings_batch(engine, rows("new", [5, 6, 7]), [])
    assert repo.record_gaps(engine, ["new"], T0, T0 + 8 * H) == []


def test_meters_orders_weather_upserts_are_idempotent(engine: Engine) -> None:
    meter = {"meter_id": "m1", "user_id": "u1", "node_id": "n1", "kind": "prosumer",
             "pv_kwp": 5.0, "storage_kwh": 0.0, "lat": 1.0, "lon": 2.0}
    order = {"order_id": "o1", "user_id": "u1", "meter_id": "m1", "node_id": "n1",
             "side": "bid", "quantity_kwh": 1.5, "limit_price": 0.2, "ts": T0}
    hour = {"location": "1.00,2.00", "ts": T0, "temperature_2m": 20.0,
            "shortwave_radiation": 500.0}
    for price in (0.2, 0.25):
        repo.upsert_meters(engine, [meter])
        repo.upsert_orders(engine, [{**order, "limit_price": price}], T0 + H)
        repo.upsert_weather(engine, [hour, {**hour, "ts": T0 + H}, {**hour, "ts": T0 + 2 * H}],
                            issued_at=T0 + H)
    assert (count(engine, "meters"), count(engine, "market_orders"), count(engine, "weather"),
            count(engine, "weather_forecasts")) == (1, 1, 2, 1)
    with session_scope(engine) as s:
        assert s.execute(select(col(MarketOrder.limit_price))).one()[0] == 0.25
        # the hours that had ended by the issue are observed, the later one is the forecast
        observed = sorted(ts.replace(tzinfo=UTC) for (ts,) in s.execute(
            select(col(WeatherObservation.ts))).all())
        ((ts, issued),) = s.execute(select(col(WeatherForecast.ts), col(WeatherForecast.issued_at))).all()
        assert s.execute(select(func.count()).select_from(Reading)).one()[0] == 0
    assert observed == [T0, T0 + H]
    assert (ts.replace(tzinfo=UTC), issued.replace(tzinfo=UTC)) == (T0 + 2 * H, T0 + H)


def test_skipped_windows_count_attempts_and_clear_when_fetched(engine: Engine) -> None:
    day = (T0, T0 + 24 * H)
    first = repo.record_skipped(engine, "readings", *day, [(T0 + 5 * H, T0 + 7 * H, "bad page")])
    assert [(s.start, s.attempts) for s in first] == [(T0 + 5 * H, 1), (T0 + 6 * H, 1)]
    again = repo.record_skipped(engine, "readings", *day, [(T0 + 6 * H, T0 + 7 * H, "still")])
    assert [(s.start, s.attempts, s.error) for s in again] == [(T0 + 6 * H, 2, "still")]
    assert [s.start for s in repo.skipped_windows(engine, "readings")] == [T0 + 6 * H]
    # A window that does not cover a recorded interval leaves it alone.
    repo.record_skipped(engine, "readings", T0, T0 + 6 * H, [])
    assert [s.attempts for s in repo.skipped_windows(engine, "readings")] == [2]
    assert repo.skipped_windows(engine, "readings", before=T0 + 6 * H) == []
    repo.record_skipped(engine, "readings", *day, [])
    assert repo.skipped_windows(engine, "readings") == []


def test_skipped_windows_split_at_the_interval_grid(engine: Engine) -> None:
    odd = T0 + timedelta(minutes=30)
    skipped = repo.record_skipped(engine, "readings", odd, T0 + 3 * H,
                                  [(odd, T0 + 3 * H, "x\x00y")])
    assert [(s.start, s.end) for s in skipped] == [(odd, T0 + H), (T0 + H, T0 + 2 * H),
                                                    (T0 + 2 * H, T0 + 3 * H)]
    assert all("\x00" not in s.error for s in repo.skipped_windows(engine, "readings"))


def test_upsert_adds_counters(engine: Engine) -> None:
    from oracle.store.tables import SkippedWindow
    from oracle.store.upsert import upsert

    row = {"stream": "s", "window_start": T0, "window_end": T0 + H, "attempts": 2,
           "error": "e", "first_failed_at": T0, "last_failed_at": T0}
    with session_scope(engine) as session:
        upsert(session, SkippedWindow, [row], key=("stream", "window_start"), add=("attempts",))
    with session_scope(engine) as session:
        upsert(session, SkippedWindow, [{**row, "error": "f"}], key=("stream", "window_start"),
               add=("attempts",))
    (stored,) = repo.skipped_windows(engine, "s")
    assert (stored.attempts, stored.error) == (4, "f")


@pytest.mark.parametrize("saved", ['{"since": "2026-01-05T00:00:00+00:00", "until": "2026-01-0',
                                   "not json", '{"since": 1, "until": 2, "cursor": "c"}',
                                   '{"since": "2026-01-05T00:00:00+00:00", "until": '
                                   '"2026-01-06T00:00:00+00:00", "cursor": 7}'])
def test_an_unreadable_saved_walk_is_dropped_not_fatal(engine: Engine, saved: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO ingest_cursors (stream, cursor, updated_at) "
                          "VALUES ('readings', :c, :t)"), {"c": saved, "t": T0})
    assert repo.load_cursor(engine, "readings") == repo.CursorState(None, None)


@pytest.mark.slow
def test_gaps_of_a_fleet_past_the_drivers_parameter_limits(strict_engine: Engine) -> None:
    engine, ids = strict_engine, [f"m{i:05d}" for i in range(FLEET)]
    silent = ids[-5:]  # never read: the whole window is a gap
    holed = ids[:-5:1000]  # hour 1 missing
    readings = [row for m in ids[:-5] for row in rows(m, [0, 2] if m in holed else [0, 1, 2])]
    assert repo.store_readings_batch(engine, readings, []) == len(readings)
    statements: list[str] = []

    def executed(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", executed)
    gaps = repo.record_gaps(engine, ids, T0, T0 + 3 * H)
    event.remove(engine, "before_cursor_execute", executed)
    expected = {(m, T0 + H, T0 + 2 * H, 1) for m in holed} | {(m, T0, T0 + 3 * H, 3)
                                                               for m in silent}
    assert {(g.meter_id, g.start, g.end, g.intervals) for g in gaps} == expected
    # Only the 75 meters that can have gaps are looked up, a chunk of them per statement.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) < 20
    # Late data fills the gaps of the first and of a late chunk's meter; re-detection over a
    # window the silent meters' gaps only overlap widens to their start (found in the last
    # chunk) and keeps them whole.
    repo.store_readings_batch(engine, rows(holed[0], [1]) + rows(holed[-1], [1]), [])
    repo.record_gaps(engine, ids, T0 + H, T0 + 3 * H)
    with session_scope(engine) as s:
        stored = {(g.meter_id, g.gap_start.replace(tzinfo=UTC), g.intervals)
                  for (g,) in s.execute(select(ReadingGap))}
    assert stored == {(m, T0 + H, 1) for m in holed[1:-1]} | {(m, T0, 3) for m in silent}


@pytest.mark.slow
def test_order_intervals_of_a_fleet_past_the_drivers_parameter_limits(
        strict_engine: Engine) -> None:
    ids = [f"o{i:05d}" for i in range(FLEET)]
    stored = ids[::9_999]  # one in each chunk of the lookup, the last id's chunk included
    for n, oid in enumerate(stored):
        repo.upsert_orders(strict_engine, [{
            "order_id": oid, "user_id": "u1", "meter_id": "m1", "node_id": "n1", "side": "bid",
            "quantity_kwh": 1.0, "limit_price": 0.2, "ts": T0}], T0 + n * H)
    assert repo.order_intervals(strict_engine, ids) == {
        oid: T0 + n * H for n, oid in enumerate(stored)}

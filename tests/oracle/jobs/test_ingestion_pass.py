"""One ingestion pass against a hostile backend on loopback, on SQLite and PostgreSQL: a bad row
is quarantined and the rest stored; a bad page costs its own interval, is skipped with the
watermark held, audited, and fetched again later; a rejected cursor resets to a window walk;
the quarantine counts re-sent rows; meters fall back to the stored ones; weather is optional."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from hostile_backend import HOUR, HOURS, METERS, T0, HostileBackend, gzip_bomb, json_raw, serving
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from oracle.config import BackendSettings, WeatherSettings
from oracle.jobs.ingestion import IngestReport, ingest_once
from oracle.sources.client import BackendClient
from oracle.sources.weather import WeatherClient
from oracle.store import ingestion as repo
from oracle.store.audit import AuditLog
from oracle.store.tables import Reading

END = T0 + HOURS * HOUR
NOW = END + HOUR
ALL = HOURS * len(METERS)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HostileBackend, str]]:
    with serving() as served:
        yield served


@pytest.fixture
def backend(server: tuple[HostileBackend, str]) -> Iterator[HostileBackend]:
    server[0].reset()
    yield server[0]
    server[0].reset()


def client(server: tuple[HostileBackend, str], **settings: Any) -> BackendClient:
    config = BackendSettings(url=server[1], **{"page_size": 20, "retries": 0, "backoff_s": 0.0,
                                               "page_retries": 1, "skip_after_passes": 2,
                                               "quarantine_per_page": 100, **settings})
    return BackendClient(config, sleep=lambda s: None)


def run(server: tuple[HostileBackend, str], engine: Engine, *, window: bool = True,
        resume: bool = False, weather: bool = False, **settings: Any) -> IngestReport:
    """One pass over the whole day (``window``), from the stored watermark up to the end of
    the day, or (``resume``) as `oracle ingest` does: resuming a stored walk if there is one."""
    span = {} if resume else {"since": T0, "until": END} if window else {"until": END}
    with client(server, **settings) as backend:
        sky = WeatherClient(WeatherSettings(url=server[1], timeout_s=2), retries=0,
                            sleep=lambda s: None) if weather else None
        try:
            return ingest_once(backend, sky, engine, now=NOW, lookback=HOURS * HOUR, **span)
        finally:
            if sky is not None:
                sky.close()


def readings(engine: Engine) -> dict[tuple[str, datetime], tuple[float, float]]:
    table = Reading.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.meter_id, table.c.ts, table.c.consumption_kwh,
                                   table.c.production_kwh)).all()
    return {(m, repo.utc(ts)): (c, p) for m, ts, c, p in rows}


def quarantine(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT source, row_key, field, value, reason, count "
                                      "FROM quarantine ORDER BY id")).all())


def audit_kinds(engine: Engine) -> list[str]:
    return [e.kind for e in AuditLog(engine).list()]


def deep_page(*_: object) -> tuple[int, dict[str, str], bytes]:
    return 200, {"content-type": "application/json"}, b"[" * 100_000


POISONED = T0 + 5 * HOUR


def poison(answer: tuple[int, dict[str, str], bytes]) -> Any:
    """A page hook: every page holding a reading of hour 5 is answered with ``answer``."""
    def page(since: datetime, until: datetime, cursor: str | None,
             items: list[dict[str, Any]]) -> Any:
        hit = any(datetime.fromisoformat(i["ts"]) == POISONED for i in items)
        return answer if hit else None
    return page


# ---------------------------------------------------------------- the clean pass


def test_a_clean_pass_stores_the_day_and_advances_the_watermark(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    report = run(server, engine, weather=True)
    assert (report.readings, report.quarantined, report.orders) == (ALL, 0, 2)
    assert report.faults == [] and report.notes == [] and report.weather_error is None
    assert report.weather_hours > 0 and report.pages == -(-ALL // 20)
    assert repo.load_cursor(engine, "readings").watermark == END
    assert len(readings(engine)) == ALL


# ---------------------------------------------------------------- page faults


HOSTILE_PAGES = {
    "deep nesting": ((200, {"content-type": "application/json"}, b"[" * 100_000),
                     "nested deeper than 64"),
    "not UTF-8": ((200, {"content-type": "application/json"}, b'{"items": ["\xff\xfe"]}'),
                  "not UTF-8"),
    "html": ((200, {"content-type": "text/html"}, b"<html>oops</html>"), "text/html"),
    "items not a list": (json_raw({"items": {"a": 1}, "next_cursor": None}), "items"),
    "no next_cursor": (json_raw({"items": []}), "next_cursor"),
    "duplicate envelope key": ((200, {"content-type": "application/json"},
                                b'{"items": [], "items": [], "next_cursor": null}'),
                               "duplicate key 'items'"),
    "cursor with a NUL": (json_raw({"items": [], "next_cursor": "p\u0000"}), "next_cursor"),
    "gzip, gzip bomb": ((200, {"content-type": "application/json",
                               "content-encoding": "gzip, gzip"}, gzip_bomb()),
                        "larger than 8000000 bytes"),
    "unknown encoding": ((200, {"content-type": "application/json", "content-encoding": "br"},
                          b"\x00\x01"), "unsupported Content-Encoding 'br'"),
    "HTTP 500 on one page": ((500, {"content-type": "text/plain"}, b"Traceback..."), "HTTP 500"),
}


@pytest.mark.parametrize("case", list(HOSTILE_PAGES))
def test_a_poisoned_page_costs_only_its_interval(server: tuple[HostileBackend, str],
                                                 backend: HostileBackend, engine: Engine,
                                                 case: str) -> None:
    answer, needle = HOSTILE_PAGES[case]
    backend.page = poison(answer)
    report = run(server, engine)
    stored = readings(engine)
    assert len(stored) == ALL - len(METERS)  # everything but hour 5
    assert not any(ts == POISONED for _, ts in stored)
    assert [(s.start, s.end, s.attempts) for s in report.skipped] == [
        (POISONED, POISONED + HOUR, 1)]
    problem = report.problem()
    assert problem is not None and needle in str(problem) and "\n" not in str(problem)
    assert "[2026-01-05T05:00Z, 2026-01-05T06:00Z)" in str(problem)
    assert repo.load_cursor(engine, "readings").watermark == POISONED  # held before it
    assert {"ingest.cursor_reset", "ingest.skipped"} <= set(audit_kinds(engine))
    assert report.orders == 2  # the rest of the pass went on


def test_a_window_is_held_n_passes_then_passed_and_fetched_again_once_healed(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    backend.page = poison(deep_page())
    first = run(server, engine, window=False)  # skip_after_passes = 2
    assert first.skipped[0].attempts == 1
    assert repo.load_cursor(engine, "readings").watermark == POISONED
    second = run(server, engine, window=False)  # from the held watermark: tried again
    assert second.since == POISONED - 2 * HOUR and second.skipped[0].attempts == 2
    assert repo.load_cursor(engine, "readings").watermark == END  # moved past it
    third = run(server, engine, window=False)  # behind the window now: re-fetched, still bad
    assert third.since == END - 2 * HOUR and third.skipped[0].attempts == 3
    assert third.problem() is not None
    backend.page = None  # the backend heals
    healed = run(server, engine, window=False)
    assert healed.recovered == 1 and healed.skipped == [] and healed.problem() is None
    assert len(readings(engine)) == ALL
    assert repo.skipped_windows(engine, "readings") == []
    assert "ingest.recovered" in audit_kinds(engine)


def test_a_backend_down_for_readings_stops_the_pass(server: tuple[HostileBackend, str],
                                                    backend: HostileBackend,
                                                    engine: Engine) -> None:
    from oracle.errors import SourceUnavailable

    run(server, engine)
    before = readings(engine)
    down = (503, {"content-type": "text/plain", "retry-after": "0"}, b"down")
    calls: list[object] = []
    backend.answers["readings"] = lambda request: down
    backend.answers["meters"] = lambda request: down if calls.append(request) or len(calls) > 1 \
        else None  # lists its meters once, then goes down with the readings
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        run(server, engine)
    assert readings(engine) == before and repo.skipped_windows(engine, "readings") == []


# ---------------------------------------------------------------- the cursor (issue 16)


def test_a_rejected_stored_cursor_resets_to_a_window_walk(server: tuple[HostileBackend, str],
                                                          backend: HostileBackend,
                                                          engine: Engine) -> None:
    # An earlier pass was interrupted holding a cursor the backend no longer knows.
    repo.store_readings_batch(engine, [], [], walk=repo.Walk(T0, END, "expired-cursor"))
    report = run(server, engine, resume=True)
    assert report.problem() is None and len(readings(engine)) == ALL
    assert any("cursor failed" in n and "HTTP 400" in n for n in report.notes)
    (reset,) = AuditLog(engine).list(kind="ingest.cursor_reset")
    assert "expired-cursor" in reset.payload and "unknown cursor" in reset.payload
    state = repo.load_cursor(engine, "readings")
    assert state.walk is None and state.watermark == END
    again = run(server, engine, resume=True)  # later passes are not poisoned
    assert again.notes == [] and again.problem() is None


def test_a_looping_cursor_resets_to_a_window_walk(server: tuple[HostileBackend, str],
                                                  backend: HostileBackend,
                                                  engine: Engine) -> None:
    def loop(since: datetime, until: datetime, cursor: str | None,
             items: list[dict[str, Any]]) -> Any:
        return json_raw({"items": items, "next_cursor": "p0"}) if cursor == "p20" else None

    backend.page = loop
    report = run(server, engine)
    assert report.problem() is None and len(readings(engine)) == ALL
    assert any("cursor loops" in n for n in report.notes)
    assert repo.load_cursor(engine, "readings").walk is None


def test_long_legal_cursors_are_stored(server: tuple[HostileBackend, str],
                                       backend: HostileBackend, engine: Engine) -> None:
    backend.cursor_tail = "~" + "é" * 3000  # a varchar(500) held neither this nor its JSON
    report = run(server, engine)
    assert report.problem() is None and report.notes == [] and len(readings(engine)) == ALL


# ---------------------------------------------------------------- row faults


ROW_FAULTS = {
    "NaN": ('"consumption_kwh": 0.55', '"consumption_kwh": NaN', "consumption_kwh"),
    "Infinity": ('"consumption_kwh": 0.55', '"consumption_kwh": -Infinity', "consumption_kwh"),
    "1e999": ('"consumption_kwh": 0.55', '"consumption_kwh": 1e999', "consumption_kwh"),
    "huge integer": ('"consumption_kwh": 0.55', '"consumption_kwh": ' + "9" * 5000,
                     "consumption_kwh"),
    "ts 9999 with offset": ('"ts": "2026-01-05T05:00:00+00:00"', '"ts": "9999-12-31T23:00:00-05:00"',
                            "ts"),
    "ts 0001 with offset": ('"ts": "2026-01-05T05:00:00+00:00"', '"ts": "0001-01-01T00:00:00+05:00"',
                            "ts"),
    "ts as an epoch": ('"ts": "2026-01-05T05:00:00+00:00"', '"ts": 1767589200', "ts"),
    "ts as an epoch string": ('"ts": "2026-01-05T05:00:00+00:00"', '"ts": "1767589200"', "ts"),
    "ts without a zone": ('"ts": "2026-01-05T05:00:00+00:00"', '"ts": "2026-01-05T05:00:00"', "ts"),
    "duplicate key": ('"consumption_kwh": 0.55', '"consumption_kwh": 0.55, "consumption_kwh": 9',
                      "consumption_kwh"),
    "100-character extra key": ('"consumption_kwh": 0.55', '"consumption_kwh": 0.55, "'
                                + "k" * 100 + '": 1', "k" * 100),
    "NUL in the meter id": ('"meter_id": "m1"', '"meter_id": "m1\\u0000x"', "meter_id"),
    "a lone surrogate in the meter id": ('"meter_id": "m1"', '"meter_id": "m1\\ud800"',
                                         "meter_id"),
    "a lone surrogate as a key": ('"meter_id": "m1"', '"meter_id": "m1", "\\udfff": "\\ud83d"',
                                  "(row)"),
    "not an object": (None, "[1, 2]", "(row)"),
}


@pytest.mark.parametrize("case", list(ROW_FAULTS))
def test_a_bad_row_is_quarantined_and_the_rest_of_its_page_stored(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine,
        case: str) -> None:
    run(server, engine)
    before = readings(engine)
    old, new, field = ROW_FAULTS[case]

    def row(meter: str, hour: int, text: str) -> str:
        if (meter, hour) != ("m1", 5):
            return text
        return new if old is None else text.replace(old, new)

    backend.row = row
    report = run(server, engine)
    assert report.problem() is None and report.quarantined == 1
    assert readings(engine) == before  # nothing stored was lost or overwritten
    (quarantined,) = quarantine(engine)
    assert quarantined.source == "readings" and quarantined.field == field
    assert quarantined.count == 1 and "\x00" not in "".join(str(v) for v in quarantined)
    assert repo.load_cursor(engine, "readings").watermark == END  # a row fault is not held


def test_an_epoch_row_cannot_overwrite_a_stored_value(server: tuple[HostileBackend, str],
                                                      backend: HostileBackend,
                                                      engine: Engine) -> None:
    run(server, engine)
    stored = readings(engine)[("m1", POISONED)]
    epoch = int(POISONED.timestamp())
    backend.row = lambda m, h, t: (t.replace('"ts": "2026-01-05T05:00:00+00:00"', f'"ts": {epoch}')
                                   .replace('"consumption_kwh": 0.55', '"consumption_kwh": 7.0')
                                   if (m, h) == ("m1", 5) else t)
    backend.extra_rows.append(json.dumps({"meter_id": "m1", "ts": epoch,
                                          "consumption_kwh": 8.0, "production_kwh": 0.0}))
    report = run(server, engine)
    assert readings(engine)[("m1", POISONED)] == stored and report.quarantined == 2


def test_a_key_sent_twice_with_different_values_in_one_pass_is_quarantined(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    late = {"meter_id": "m0", "ts": (T0 + 20 * HOUR).isoformat(), "consumption_kwh": 3.0,
            "production_kwh": 0.0}
    backend.extra_rows.append(json.dumps(late))  # on page 0; the real one comes pages later
    report = run(server, engine)
    (quarantined,) = quarantine(engine)
    assert "different values" in quarantined.reason and report.quarantined == 1
    assert readings(engine)[("m0", T0 + 20 * HOUR)] == (3.0, 0.0)  # the first version stays


def test_the_same_bad_row_on_every_pass_is_counted_not_duplicated(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    backend.row = lambda m, h, t: t.replace("0.55", "NaN") if (m, h) == ("m1", 5) else t
    for _ in range(3):
        run(server, engine)
    (quarantined,) = quarantine(engine)
    assert quarantined.count == 3
    backend.row = lambda m, h, t: t.replace("0.55", "-Infinity") if (m, h) == ("m1", 5) else t
    run(server, engine)  # a different payload for the same key is a new quarantine row
    assert [q.count for q in quarantine(engine)] == [3, 1]


def test_a_page_of_70000_bad_rows_is_capped(server: tuple[HostileBackend, str],
                                            backend: HostileBackend, engine: Engine) -> None:
    bad = '{"meter_id": "m0", "ts": "2026-01-05T00:00:00Z", "consumption_kwh": NaN, ' \
          '"production_kwh": %d}'
    backend.extra_rows.extend(bad % i for i in range(70_000))
    report = run(server, engine)
    assert report.quarantined == 70_000 and len(readings(engine)) == ALL
    rows = quarantine(engine)
    assert len(rows) == 101 and sum(r.count for r in rows) == 70_000
    (summary,) = [r for r in rows if r.count > 1]
    assert summary.count == 69_900 and "69900 more rejected rows" in summary.reason


# ---------------------------------------------------------------- meters, orders, weather


@pytest.mark.parametrize("answer", [
    json_raw([]),
    (302, {"content-type": "application/json", "location": "/login"}, b"[]"),
    (200, {"content-type": "application/json"}, b"[" * 100_000),
    json_raw(METERS[:1]),
])
def test_an_empty_or_implausible_meter_list_falls_back_to_the_stored_meters(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine,
        answer: tuple[int, dict[str, str], bytes]) -> None:
    run(server, engine)
    backend.answers["meters"] = lambda request: answer
    report = run(server, engine)
    assert report.quarantined == 0 and report.problem() is None and report.meters == 3
    assert any(n.startswith("meters:") and "3 stored meters" in n for n in report.notes)
    assert "ingest.meters_fallback" in audit_kinds(engine)


def test_meters_on_unknown_nodes_and_orders_that_do_not_fit_are_quarantined(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    from hostile_backend import orders

    stray = {**METERS[2], "node_id": "n9"}
    twice = {**METERS[0], "pv_kwp": 9.0}
    backend.answers["meters"] = lambda request: json_raw([METERS[0], METERS[1], stray, twice])
    book = orders(END)
    bad_orders = [{**book[0], "order_id": "x1", "meter_id": "ghost"},
                  {**book[0], "order_id": "x2", "node_id": "n1"},  # not m1's node
                  {**book[0], "order_id": "x3"}, {**book[0], "order_id": "x3",
                                                  "quantity_kwh": 5.0}]
    backend.answers["orders"] = lambda request: json_raw([book[0], *bad_orders])
    report = run(server, engine)
    reasons = {(q.source, q.field): q.reason for q in quarantine(engine)}
    assert "not in /api/v1/grid" in reasons[("meters", "node_id")]
    assert "listed more than once" in reasons[("meters", "meter_id")]
    assert "unknown meter" in reasons[("orders", "meter_id")]
    assert "is not meter m1's node" in reasons[("orders", "node_id")]
    assert "listed more than once" in reasons[("orders", "order_id")]
    assert report.orders == 1 and report.meters == 1  # only m1 is a clean meter
    assert {m for m, _ in readings(engine)} == {"m1"}  # m0 and m2 readings: unknown meters


def test_an_order_id_reused_for_another_interval_is_quarantined(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    from hostile_backend import orders

    run(server, engine)
    earlier = orders(END)
    backend.answers["orders"] = lambda request: json_raw(
        [{**o, "ts": (END + HOUR).isoformat()} for o in earlier])
    with client(server) as c:
        report = ingest_once(c, None, engine, since=T0, until=END + HOUR, now=NOW + HOUR)
    assert report.orders == 0 and {q.field for q in quarantine(engine)} == {"order_id"}
    assert "already stored for the interval" in quarantine(engine)[0].reason


def test_a_broken_order_book_is_skipped_and_the_readings_kept(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    backend.answers["orders"] = lambda request: deep_page()
    report = run(server, engine)
    problem = report.problem()
    assert problem is not None and "orders for 2026-01-06T00:00Z skipped" in str(problem)
    assert len(readings(engine)) == ALL and report.orders == 0


@pytest.mark.parametrize("answer", [
    (503, {"content-type": "text/plain"}, b"down"),
    (200, {"content-type": "application/json"}, b"[" * 100_000),
    json_raw({"latitude": 36.1}),
])
def test_a_weather_outage_is_reported_not_raised(server: tuple[HostileBackend, str],
                                                 backend: HostileBackend, engine: Engine,
                                                 answer: tuple[int, dict[str, str], bytes]
                                                 ) -> None:
    backend.answers["weather"] = lambda request: answer
    report = run(server, engine, weather=True)
    assert report.weather_error is not None and report.weather_hours == 0
    assert report.problem() is None and len(readings(engine)) == ALL and report.orders == 2
    assert "ingest.weather_unavailable" in audit_kinds(engine)


def test_a_backend_failing_every_readings_request_is_not_asked_for_every_interval(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    backend.answers["readings"] = lambda request: deep_page()
    report = run(server, engine, page_size=3)  # one interval per window: 24 windows
    asked = [r for r in backend.requests if r.startswith("readings")]
    assert len(asked) == 6  # the cursor, then two windows (each tried twice), then given up
    assert [s.start for s in report.skipped] == [T0 + h * HOUR for h in range(HOURS)]
    assert repo.load_cursor(engine, "readings").watermark == T0 and readings(engine) == {}


def test_poisoned_intervals_next_to_good_ones_are_told_apart(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    bad = {T0 + h * HOUR for h in (3, 5, 6)}

    def page(since: datetime, until: datetime, cursor: str | None,
             items: list[dict[str, Any]]) -> Any:
        return deep_page() if any(datetime.fromisoformat(i["ts"]) in bad for i in items) else None

    backend.page = page
    report = run(server, engine)
    assert {s.start for s in report.skipped} == bad
    assert len(readings(engine)) == ALL - len(bad) * len(METERS)


def test_a_broken_meter_list_with_no_stored_meters_skips_the_readings(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine) -> None:
    backend.answers["meters"] = lambda request: deep_page()
    report = run(server, engine)
    problem = report.problem()
    assert problem is not None and "no meters are stored" in str(problem)
    assert readings(engine) == {} and repo.load_cursor(engine, "readings").watermark is None
    assert not [r for r in backend.requests if r.startswith(("readings", "orders"))]
    assert quarantine(engine) == []  # nothing quarantined as an "unknown meter"

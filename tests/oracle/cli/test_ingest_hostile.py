"""`oracle ingest` against a hostile backend on loopback, once per case of issues 23 and 16, on
SQLite and PostgreSQL: the exit code, one clear line, no traceback, no signal, and every row
stored before the pass still there unchanged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_backend import HOUR, HOURS, METERS, T0, HostileBackend, gzip_bomb, json_raw, serving
from sqlalchemy import select
from sqlalchemy.engine import Engine

from oracle.cli import main
from oracle.store import ingestion as repo
from oracle.store.tables import MarketOrder, Meter, Reading

END = T0 + HOURS * HOUR
ROOT = Path(__file__).resolve().parents[3]
ORACLE = str(ROOT / ".venv" / "bin" / "oracle")
SETTINGS = {"ORACLE_BACKEND__PAGE_SIZE": "20", "ORACLE_BACKEND__RETRIES": "0",
            "ORACLE_BACKEND__BACKOFF_S": "0", "ORACLE_BACKEND__PAGE_RETRIES": "0",
            "ORACLE_WEATHER__TIMEOUT_S": "2"}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[HostileBackend, str]]:
    with serving() as served:
        yield served


@pytest.fixture
def backend(server: tuple[HostileBackend, str], monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[HostileBackend]:
    for name, value in SETTINGS.items():
        monkeypatch.setenv(name, value)
    server[0].reset()
    yield server[0]
    server[0].reset()


def ingest(server: tuple[HostileBackend, str], db_url: str, capsys: pytest.CaptureFixture[str],
           *extra: str) -> tuple[int, str, str]:
    """`oracle ingest` through the console entry point; (exit code, stdout, stderr)."""
    url = server[1]
    code = main(["ingest", "--backend-url", url, "--weather-url", url, "--db-url", db_url,
                 "--since", T0.isoformat(), "--until", END.isoformat(), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """Every stored reading, meter and order, as comparable tuples."""
    tables = {"readings": Reading, "meters": Meter, "market_orders": MarketOrder}
    out = {}
    with engine.connect() as conn:
        for name, model in tables.items():
            table = model.__table__  # type: ignore[attr-defined]
            columns = [c for c in table.c if c.name not in ("ingested_at", "updated_at")]
            out[name] = {tuple(repo.utc(v) if hasattr(v, "tzinfo") else v for v in row)
                         for row in conn.execute(select(*columns))}
    return out


def poisoned_page(answer: tuple[int, dict[str, str], bytes]) -> Callable[..., Any]:
    def page(since: Any, until: Any, cursor: str | None, items: list[dict[str, Any]]) -> Any:
        return answer if any(i["ts"].startswith("2026-01-05T05:") for i in items) else None
    return page


def bad_row(new: str) -> Callable[[str, int, str], str]:
    """Replace one row (m1, hour 5) by ``new`` (raw JSON text)."""
    return lambda meter, hour, text: new if (meter, hour) == ("m1", 5) else text


GOOD_ROW = '"meter_id": "m1", "ts": "2026-01-05T05:00:00+00:00", "production_kwh": 0.0'
DEEP = (200, {"content-type": "application/json"}, b"[" * 100_000)


def stored_cursor_the_backend_rejects(backend: HostileBackend, engine: Engine) -> None:
    """An earlier `oracle ingest` died holding a cursor the backend no longer knows (400)."""
    repo.store_readings_batch(engine, [], [], walk=repo.Walk(T0, END, "p999999-expired"))


def unexpected_envelope_field(backend: HostileBackend, engine: Engine) -> None:
    backend.page = lambda since, until, cursor, items: json_raw(
        {"items": items, "next_cursor": None, "page_info": {"total": len(items)}})


RESUME = ("resume",)  # run without --since/--until: resume the stored walk, as operators do

# name: (prepare the backend, RESUME or (), exit code, text the output must hold)
CASES: dict[str, tuple[Callable[[HostileBackend, Engine], None], tuple[str, ...], int, str]] = {
    "deep nesting on a readings page": (
        lambda b, e: setattr(b, "page", poisoned_page(DEEP)), (), 2, "nested deeper than 64"),
    "deep nesting as the meter list": (
        lambda b, e: b.answers.update(meters=lambda r: DEEP), (), 0, "warning: meters:"),
    "deep nesting as the weather": (
        lambda b, e: b.answers.update(weather=lambda r: DEEP), (), 0, "weather unavailable"),
    "gzip, gzip of 1 GiB": (
        lambda b, e: setattr(b, "page", poisoned_page((200, {
            "content-type": "application/json", "content-encoding": "gzip, gzip"},
            gzip_bomb()))), (), 2, "larger than 8000000 bytes"),
    "ts 9999-12-31T23:00:00-05:00": (
        lambda b, e: setattr(b, "row", bad_row('{"meter_id": "m1", "ts": '
                                               '"9999-12-31T23:00:00-05:00", '
                                               '"consumption_kwh": 1.0, "production_kwh": 0.0}')),
        (), 0, "1 quarantined"),
    "ts 0001-01-01T00:00:00+05:00": (
        lambda b, e: setattr(b, "row", bad_row('{"meter_id": "m1", "ts": '
                                               '"0001-01-01T00:00:00+05:00", '
                                               '"consumption_kwh": 1.0, "production_kwh": 0.0}')),
        (), 0, "1 quarantined"),
    "ts as an integer epoch with another value": (
        lambda b, e: setattr(b, "row", bad_row('{"meter_id": "m1", "ts": 1767589200, '
                                               '"consumption_kwh": 9.0, "production_kwh": 0.0}')),
        (), 0, "1 quarantined"),
    "NaN in one row": (
        lambda b, e: setattr(b, "row", bad_row(f'{{{GOOD_ROW}, "consumption_kwh": NaN}}')),
        (), 0, "1 quarantined"),
    "an unexpected envelope field": (unexpected_envelope_field, (), 0, "0 quarantined"),
    "meters answering []": (
        lambda b, e: b.answers.update(meters=lambda r: json_raw([])), (), 0,
        "checking readings against the 3 stored meters"),
    "meters answering a 302 with []": (
        lambda b, e: b.answers.update(meters=lambda r: (
            302, {"content-type": "application/json", "location": "/login"}, b"[]")), (), 0,
        "redirects are not followed"),
    "a 100-character extra key": (
        lambda b, e: setattr(b, "row", bad_row(f'{{{GOOD_ROW}, "consumption_kwh": 1.0, "'
                                               + "k" * 100 + '": 1}')), (), 0, "1 quarantined"),
    "a NUL in a meter id": (
        lambda b, e: setattr(b, "row", bad_row('{"meter_id": "m1\\u0000", "ts": '
                                               '"2026-01-05T05:00:00Z", "consumption_kwh": 1.0, '
                                               '"production_kwh": 0.0}')), (), 0, "1 quarantined"),
    "a lone surrogate in a meter id and a key": (
        lambda b, e: setattr(b, "row", bad_row('{"meter_id": "m1\\ud800", "\\udfff": 1, "ts": '
                                               '"2026-01-05T05:00:00Z", "consumption_kwh": 1.0, '
                                               '"production_kwh": 0.0}')), (), 0, "1 quarantined"),
    "a redirect for the order book": (
        lambda b, e: b.answers.update(orders=lambda r: (
            307, {"content-type": "application/json", "location": "http://elsewhere/"}, b"[]")),
        (), 2, "orders for 2026-01-06T00:00Z skipped"),
    "a long legal cursor": (
        lambda b, e: setattr(b, "cursor_tail", "~" + "Z" * 3000), (), 0, "0 quarantined"),
    "5,000 bad rows on one page": (
        lambda b, e: b.extra_rows.extend(
            f'{{"meter_id": "m0", "ts": "2026-01-05T00:00:00Z", "consumption_kwh": NaN, '
            f'"production_kwh": {i}}}' for i in range(5000)), (), 0, "5000 quarantined"),
    "a meter on an unknown node": (
        lambda b, e: b.answers.update(meters=lambda r: json_raw(
            [*METERS[:2], {**METERS[2], "node_id": "n9"}])), (), 0, "25 quarantined"),
    "orders for an unknown meter": (
        lambda b, e: b.answers.update(orders=lambda r: json_raw([{
            "order_id": "x1", "user_id": "u9", "meter_id": "ghost", "node_id": "n0",
            "side": "bid", "quantity_kwh": 1.0, "limit_price": 0.2,
            "ts": END.isoformat()}])), (), 0, "1 quarantined, 0 gaps (0 missing intervals), 0 orders"),
    "a weather outage": (
        lambda b, e: b.answers.update(weather=lambda r: (503, {"content-type": "text/plain"},
                                                         b"down")), (), 0, "weather unavailable"),
    "a stored cursor the backend rejects": (stored_cursor_the_backend_rejects, RESUME, 0,
                                            "the backend's cursor failed"),
    "a looping cursor": (
        lambda b, e: setattr(b, "page", lambda s, u, c, items: json_raw(
            {"items": items, "next_cursor": "p0"}) if c == "p20" else None), (), 0,
        "cursor loops"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_backend_case(server: tuple[HostileBackend, str], backend: HostileBackend,
                              engine: Engine, db_url: str, capsys: pytest.CaptureFixture[str],
                              case: str) -> None:
    code, out, err = ingest(server, db_url, capsys)
    assert code == 0, out + err  # a clean pass first: the rows that must survive
    before = snapshot(engine)
    prepare, extra, expected, needle = CASES[case]
    prepare(backend, engine)
    options = ["--no-weather"] if "weather" not in case else []
    if extra == RESUME:
        url = server[1]
        code = main(["ingest", "--backend-url", url, "--weather-url", url, "--db-url", db_url,
                     *options])
        out, err = capsys.readouterr()
    else:
        code, out, err = ingest(server, db_url, capsys, *options)
    assert code == expected, out + err
    assert "Traceback" not in out + err and needle in out + err
    errors = err.splitlines()
    assert len(errors) == (1 if expected else 0), err
    if expected:
        assert errors[0].startswith("error: ") and len(errors[0]) < 600
    after = snapshot(engine)
    for table, rows in before.items():
        assert rows <= after[table], f"{table}: stored rows changed or vanished"


def run_oracle(args: list[str], env: dict[str, str]) -> tuple[int, str, str, int]:
    """`oracle` in a process of its own: (exit code or -signal, stdout, stderr, peak RSS KiB)."""
    process = subprocess.Popen([ORACLE, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, out, err, usage.ru_maxrss


@pytest.mark.slow
def test_the_console_script_survives_deep_nesting_and_a_gzip_bomb(
        server: tuple[HostileBackend, str], backend: HostileBackend, sqlite_url: str) -> None:
    """The real `oracle` process (its imports raise the recursion limit to 100,000): no signal,
    no traceback, one line, and the bomb stops at the body limit without the process growing."""
    from oracle.store.engine import make_engine
    from oracle.store.migrate import upgrade

    upgrade(make_engine(sqlite_url))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}, **SETTINGS,
           "PYTHONPATH": str(ROOT)}
    args = ["ingest", "--backend-url", server[1], "--db-url", sqlite_url, "--no-weather",
            "--since", T0.isoformat(), "--until", END.isoformat()]
    code, out, err, clean_rss = run_oracle(args, env)
    assert code == 0, err
    for answer, needle in ((DEEP, "nested deeper than 64"),
                           ((200, {"content-type": "application/json",
                                   "content-encoding": "gzip, gzip"}, gzip_bomb()),
                            "larger than 8000000 bytes")):
        backend.page = poisoned_page(answer)
        code, out, err, rss = run_oracle(args, env)
        assert code == 2, f"exit {code} (signal {-code if code < 0 else None}): {err[-2000:]}"
        assert code != -signal.SIGSEGV and "Traceback" not in err
        (line,) = err.splitlines()
        assert line.startswith("error: ") and needle in line
        assert "69 readings" in out  # all but the poisoned hour's, stored before the error
        assert rss - clean_rss < 64 * 1024, f"peak RSS grew by {(rss - clean_rss) // 1024} MiB"
    print(f"peak RSS: clean pass {clean_rss // 1024} MiB, gzip bomb {rss // 1024} MiB",
          file=sys.stderr)


def test_the_quarantine_keeps_what_postgres_refuses_as_text(
        server: tuple[HostileBackend, str], backend: HostileBackend, engine: Engine,
        db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    backend.extra_rows.extend([
        '{"meter_id": "m\\u0000' + "x" * 300 + '", "ts": "2026-01-05T00:00:00Z", '
        '"consumption_kwh": 1.0, "production_kwh": 0.0}',
        f'{{{GOOD_ROW}, "consumption_kwh": 1.0, "{"k" * 100}\\u0000": "{"v" * 9000}"}}',
    ])
    code, out, err = ingest(server, db_url, capsys, "--no-weather")
    assert code == 0 and "2 quarantined" in out, out + err
    with engine.connect() as conn:
        rows = conn.execute(select(*_quarantine_columns())).all()
    assert len(rows) == 2
    for row in rows:
        assert all("\x00" not in str(v) for v in row)
        assert len(json.dumps(row.payload)) <= 4100


def _quarantine_columns() -> list[Any]:
    from oracle.store.tables import QuarantinedRow

    table = QuarantinedRow.__table__  # type: ignore[attr-defined]
    return [table.c.row_key, table.c.field, table.c.value, table.c.reason, table.c.payload]

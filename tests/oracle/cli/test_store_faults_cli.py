"""`oracle ingest` against a real backend on loopback when the store fails in the middle of a
pass: one line on stderr, exit code 1, no traceback, and every stored row intact (pages are
stored whole with their cursor, so a rerun resumes and loses nothing)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from oracle.cli import main
from oracle.simulator.backend import ReplayClock, create_app, serve_in_thread
from oracle.simulator.replay import build_replay
from oracle.store import engine as store_engine
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

PAGE = 8
ENV = {"ORACLE_BACKEND__PAGE_SIZE": str(PAGE), "ORACLE_BACKEND__RETRIES": "0"}


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, str, str, str]]:
    """The reference backend: its URL and three window edges (10 h and 30 h in)."""
    replay = build_replay(meters=4, weeks=1, seed=3)
    with serve_in_thread(create_app(replay, ReplayClock(replay.end))) as url:
        start = replay.start
        yield (url, start.isoformat(), (start + timedelta(hours=10)).isoformat(),
               (start + timedelta(hours=30)).isoformat())


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def ingest(capsys: pytest.CaptureFixture[str], url: str, db_url: str, since: str,
           until: str) -> tuple[int, str, str]:
    code = main(["ingest", "--backend-url", url, "--no-weather", "--db-url", db_url,
                 "--since", since, "--until", until])
    out = capsys.readouterr()
    return code, out.out, out.err


def readings(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT meter_id, ts, consumption_kwh, production_kwh FROM readings "
            "ORDER BY meter_id, ts"))]


def assert_one_error_line(err: str, needle: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err


def test_a_full_sqlite_file_mid_pass(backend: tuple[str, str, str, str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url, start, first, second = backend
    db_url = f"sqlite:///{tmp_path}/oracle.db"
    engine = make_engine(db_url)
    upgrade(engine)
    assert ingest(capsys, url, db_url, start, first)[0] == 0
    stored = readings(engine)
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
    engine.dispose()

    pragmas = store_engine._sqlite_pragmas

    def capped(dbapi_connection: Any, record: Any) -> None:  # the disk fills up
        pragmas(dbapi_connection, record)
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 1}")

    monkeypatch.setattr(store_engine, "_sqlite_pragmas", capped)
    code, _, err = ingest(capsys, url, db_url, first, second)
    assert code == 1
    assert_one_error_line(err, "is full (database or disk is full)")
    after = readings(engine)
    assert set(stored) <= set(after)  # nothing stored before was lost
    assert (len(after) - len(stored)) % PAGE == 0  # pages are stored whole or not at all
    assert len(stored) < len(after) < 4 * 30  # it filled up in the middle of the pass

    monkeypatch.setattr(store_engine, "_sqlite_pragmas", pragmas)  # space is freed
    assert ingest(capsys, url, db_url, first, second)[0] == 0
    assert len(readings(make_engine(db_url))) == 4 * 30


def test_a_read_only_sqlite_file(backend: tuple[str, str, str, str], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    url, start, first, _ = backend
    path = tmp_path / "oracle.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    assert ingest(capsys, url, f"sqlite:///{path}", start, first)[0] == 0
    stored = readings(engine)
    later = (datetime.fromisoformat(first) + timedelta(hours=5)).isoformat()
    code, _, err = ingest(capsys, url, f"sqlite:///file:{path}?mode=ro&uri=true", first, later)
    assert code == 1
    assert_one_error_line(err, "is read-only")
    assert readings(engine) == stored


KILL_ON_SECOND_PAGE = """
CREATE SEQUENCE fault_once;
CREATE FUNCTION kill_mid_pass() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM readings) > {page} AND nextval('fault_once') = 1 THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER kill_mid_pass AFTER INSERT ON readings
    FOR EACH STATEMENT EXECUTE FUNCTION kill_mid_pass();
"""


@pytest.mark.postgres
def test_a_postgres_connection_killed_mid_pass(backend: tuple[str, str, str, str],
                                               pg_schema: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url, start, first, _ = backend
    engine = make_engine(pg_schema)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text(KILL_ON_SECOND_PAGE.format(page=PAGE)))
    code, _, err = ingest(capsys, url, pg_schema, start, first)
    assert code == 1
    assert_one_error_line(err, "lost the database postgresql")  # the reason is the server's:
    assert "rolled back" in err  # "terminating connection..." or "server closed the connection"
    assert len(readings(engine)) == PAGE  # the first page, whole; the second rolled back

    assert ingest(capsys, url, pg_schema, start, first)[0] == 0  # resumes after page one
    assert len(readings(engine)) == 4 * 10
    engine.dispose()

"""The clients against real uvicorn servers on loopback: the reference backend and a faulty one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.engine import Engine

from oracle.config import BackendSettings, WeatherSettings
from oracle.errors import ConfigError, SourceDataInvalid, SourceUnavailable
from oracle.jobs.ingestion import ingest_once
from oracle.simulator.backend import ReplayClock, create_app, serve_in_thread
from oracle.simulator.replay import Replay, build_replay
from oracle.sources.client import BackendClient
from oracle.sources.weather import WeatherClient
from oracle.store import ingestion as repo

METERS, WEEKS = 12, 1


@pytest.fixture(scope="module")
def replay() -> Replay:
    return build_replay(meters=METERS, weeks=WEEKS, seed=3)


@pytest.fixture(scope="module")
def backend(replay: Replay) -> Iterator[str]:
    """The reference backend with the whole replay already in the past, bearer token on."""
    with serve_in_thread(create_app(replay, ReplayClock(replay.end), token="t0ken")) as url:
        yield url


def client(url: str, token: str | None = "t0ken", **settings: object) -> BackendClient:
    config = BackendSettings(url=url, **{"page_size": 500, "retries": 1, "backoff_s": 0.01,
                                         **settings})  # type: ignore[arg-type]
    return BackendClient(config, token)


def stored(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_every_endpoint_round_trips(backend: str, replay: Replay) -> None:
    with client(backend) as c:
        meters = c.meters()
        pages = list(c.readings_pages(replay.start, replay.end))
        orders = c.orders(replay.start + timedelta(hours=14))
        grid = c.grid()
    assert len(meters.valid) == METERS and meters.rejected == []
    readings = [r for p in pages for r in p.batch.valid]
    assert len(readings) == METERS * WEEKS * 168 and len(pages) == -(-len(readings) // 500)
    assert all(not p.batch.rejected for p in pages)
    first = readings[0]
    assert first.consumption_kwh == pytest.approx(float(replay.consumption[0, 0]))
    assert orders.valid and {o.side for o in orders.valid} <= {"bid", "offer"}
    assert grid.import_price == replay.tariff
    with WeatherClient(WeatherSettings(url=backend)) as w:
        hours = w.hourly(36.1, -79.95, replay.start, replay.start + timedelta(days=2))
    assert len(hours) == 48 and max(h.values["shortwave_radiation"] or 0 for h in hours) > 500


def test_wrong_token_is_a_config_error(backend: str) -> None:
    with pytest.raises(ConfigError, match="token"), client(backend, token="wrong") as c:
        c.meters()


def test_results_are_posted_once_per_idempotency_key(backend: str) -> None:
    with client(backend) as c:
        c.post_result("prices", {"price": 0.21}, "price:z1:t1")
        c.post_result("prices", {"price": 0.21}, "price:z1:t1")  # a retry: accepted, not doubled
        with pytest.raises(SourceDataInvalid, match="HTTP 409"):
            c.post_result("prices", {"price": 0.99}, "price:z1:t1")
        listed = c._http.request("GET", "/api/v1/oracle/prices")
    assert listed == {"price:z1:t1": {"price": 0.21}}


def test_ingest_pass_stores_everything_once_and_resumes(backend: str, replay: Replay,
                                                        engine: Engine) -> None:
    expected = METERS * WEEKS * 168
    with client(backend) as c, WeatherClient(WeatherSettings(url=backend)) as w:
        walk = c.readings_pages(replay.start, replay.end)
        page = next(walk)  # an interrupted pass: one page stored, then the process died
        repo.store_readings_batch(engine, [r.model_dump() for r in page.batch.valid], [],
                                  walk=repo.Walk(replay.start, replay.end, page.next_cursor))
        first = ingest_once(c, w, engine, now=replay.end + timedelta(days=1))
        assert first.readings == expected - 500  # resumed after the stored page
        again = ingest_once(c, w, engine, since=replay.start, until=replay.end,
                            now=replay.end + timedelta(days=1))
    assert stored(engine, "readings") == expected and again.readings == expected
    assert first.gaps == [] and again.quarantined == 0 and stored(engine, "reading_gaps") == 0
    assert stored(engine, "meters") == METERS and stored(engine, "weather") > 7 * 24
    assert repo.load_cursor(engine, "readings").watermark == replay.end


# ---------------------------------------------------------------- a faulty backend


def faulty_app(replay: Replay, mode: dict[str, str]) -> FastAPI:
    """Valid meters; readings that misbehave the way ``mode['readings']`` says."""
    app = FastAPI()
    item = {"meter_id": "m00000", "ts": replay.start.isoformat(), "consumption_kwh": 0.5,
            "production_kwh": 0.0}
    huge = json.dumps({"items": [item] * 120_000, "next_cursor": None}).encode()  # > 10 MB

    @app.get("/api/v1/meters")
    def meters() -> Response:
        return Response(json.dumps(replay.meters), media_type="application/json")

    @app.get("/api/v1/readings")
    async def readings() -> Response:
        kind = mode["readings"]
        if kind == "slow":
            await asyncio.sleep(1.5)
        if kind == "huge":
            return Response(huge, media_type="application/json")
        if kind == "busy":
            return Response("busy", status_code=503, headers={"Retry-After": "0"})
        return Response("<html>not json</html>", media_type="text/html")

    return app


@pytest.fixture(scope="module")
def faulty(replay: Replay) -> Iterator[tuple[str, dict[str, str]]]:
    mode = {"readings": "slow"}
    with serve_in_thread(faulty_app(replay, mode)) as url:
        yield url, mode


@pytest.mark.parametrize(("kind", "needle"), [
    ("slow", "no answer within"),
    ("huge", "larger than"),
    ("busy", "HTTP 503"),
    ("html", "expected application/json"),
])
def test_faults_end_in_a_clear_error_and_keep_stored_rows(
        faulty: tuple[str, dict[str, str]], replay: Replay, sqlite_url: str,
        kind: str, needle: str) -> None:
    """The backend lists its meters but fails every readings request: the pass goes on, the
    window is recorded as skipped (re-fetched later) and nothing stored is touched."""
    from oracle.store.engine import make_engine
    from oracle.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    rows = [{"meter_id": "m00000", "ts": replay.start, "consumption_kwh": 0.25,
             "production_kwh": 0.0}]
    repo.store_readings_batch(engine, rows, [])
    url, mode = faulty
    mode["readings"] = kind
    with client(url, timeout_s=0.5, page_size=5000) as c:
        report = ingest_once(c, None, engine, since=replay.start, until=replay.end,
                             now=replay.end)
    problem = report.problem()
    assert problem is not None and needle in str(problem) and "\n" not in str(problem)
    assert report.skipped and report.skipped[0].start == replay.start
    assert repo.load_cursor(engine, "readings").watermark == replay.start  # held
    with engine.connect() as conn:
        assert conn.execute(text("SELECT consumption_kwh FROM readings")).all() == [(0.25,)]


def test_a_backend_that_is_down_stops_the_pass(sqlite_url: str, replay: Replay) -> None:
    from oracle.store.engine import make_engine
    from oracle.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    with pytest.raises(SourceUnavailable, match="cannot connect"), \
            client("http://127.0.0.1:9", retries=0) as c:
        ingest_once(c, None, engine, since=replay.start, until=replay.end, now=replay.end)
    assert repo.load_cursor(engine, "readings").watermark is None


@pytest.mark.parametrize("since", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_the_reference_backend_answers_an_out_of_range_time_with_422(backend: str,
                                                                     since: str) -> None:
    import httpx

    reply = httpx.get(f"{backend}/api/v1/readings", params={"since": since, "until": since},
                      headers={"Authorization": "Bearer t0ken"})
    assert reply.status_code == 422 and "out of range" in reply.json()["detail"]

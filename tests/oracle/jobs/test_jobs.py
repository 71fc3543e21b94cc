"""The daemon's tick on real parts: SQLite, the in-process py-evm chain with the contracts,
and the reference backend replaying real data on a loopback port, on a simulated clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import text

from oracle import jobs
from oracle.app import Application, build
from oracle.cli.demo import WARMUP, SimClock, demo_settings
from oracle.errors import RpcUnavailable
from oracle.jobs.ingestion import ingest_once
from oracle.sources.client import BackendClient
from oracle.store import ingestion as ingestion_repo
from oracle.store import migrate
from oracle.store.audit import AuditLog
from oracle.store.engine import make_engine

pytestmark = pytest.mark.slow
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def replay():  # type: ignore[no-untyped-def]
    from oracle.simulator.replay import build_replay

    return build_replay(meters=12, weeks=4, seed=3)


POISON: dict[str, datetime | None] = {"hour": None}


def poisonable(app: FastAPI) -> FastAPI:
    """The reference backend, but while ``POISON["hour"]`` is set every readings page holding
    that hour is answered with 100,000 nested brackets (a backend bug on one page)."""

    @app.middleware("http")
    async def poison(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        hour = POISON["hour"]
        if hour is None or request.url.path != "/api/v1/readings":
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        if f'"ts":"{hour.isoformat()}"'.encode() in body:
            return Response(b"[" * 100_000, media_type="application/json")
        return Response(body, status_code=response.status_code, media_type="application/json")

    return app


@pytest.fixture
def world(tmp_path: Path, replay) -> Iterator[tuple[Application, SimClock]]:  # type: ignore[no-untyped-def]
    from oracle.simulator.backend import create_app, serve_in_thread

    clock = SimClock(replay.start + WARMUP)
    POISON["hour"] = None
    with serve_in_thread(poisonable(create_app(replay, clock))) as url:
        settings = demo_settings(None, tmp_path, None, None, url)
        migrate.upgrade(make_engine(settings.database_url))
        app = build(settings, clock=clock)
        ingest_once(app.backend, app.weather, app.engine, since=replay.start,
                    until=clock.now_value, now=clock.now_value, rules=app.plausibility)
        yield app, clock
        app.close()


def _count(app: Application, sql: str) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _advance(clock: SimClock, hours: int) -> None:
    clock.now_value += hours * HOUR


def test_ticks_store_rows_and_queue_each_report_once(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    _advance(clock, 10)  # into the day: the book crosses when there is solar surplus
    done = jobs.catch_up(app.tick_parts())
    assert len(done) == 1  # first run: only the latest interval
    from oracle.store import ingestion
    assert ingestion.load_cursor(app.engine, jobs.TICK_STREAM).watermark is not None
    first = done[0]
    assert first.stages["forecast"] == "ok" and first.stages["price"] == "ok"
    assert first.stages["detect"] == "ok" and first.stages["optimize"] == "ok"
    reports = _count(app, "SELECT COUNT(*) FROM reports")
    rows = {t: _count(app, f"SELECT COUNT(*) FROM {t}")
            for t in ("forecasts", "price_rounds", "anomalies", "dispatch_schedules")}
    pv_meters = _count(app, "SELECT COUNT(*) FROM meters WHERE pv_kwp > 0")
    meters = _count(app, "SELECT COUNT(DISTINCT meter_id) FROM readings")
    assert pv_meters > 0 and meters == 12
    # zone demand and solar, each PV meter's own solar and each meter's demand: 24 hours each
    assert rows["forecasts"] == 24 * (2 + pv_meters + meters)
    assert rows["price_rounds"] == 1 and rows["dispatch_schedules"] == 1
    # Re-running the same interval writes the same rows and queues nothing new.
    jobs.run_tick(app.tick_parts(), first.interval_start)
    assert _count(app, "SELECT COUNT(*) FROM reports") == reports
    assert {t: _count(app, f"SELECT COUNT(*) FROM {t}") for t in rows} == rows
    jobs.submit(app.submit_parts())
    assert _count(app, "SELECT COUNT(DISTINCT report_id) FROM transactions") == reports
    assert AuditLog(app.engine).verify().ok


def test_the_zone_solar_forecast_is_the_sum_of_the_prosumers_own(world) -> None:  # type: ignore[no-untyped-def]
    """Each PV meter is forecast from its own history and the weather at its place; the zone's
    solar forecast is their sum at every hour, and the dark hours are exactly zero."""
    app, clock = world
    _advance(clock, 10)
    done = jobs.catch_up(app.tick_parts())
    assert done[0].stages["forecast"] == "ok"
    with app.engine.connect() as conn:
        zone = dict(conn.execute(text(
            "SELECT ts, mean FROM forecasts WHERE target = 'solar' AND entity_id = :z"),
            {"z": app.settings.pricing.zone}).all())
        meters = dict(conn.execute(text(
            "SELECT f.ts, SUM(f.mean) FROM forecasts f JOIN meters m ON m.meter_id = f.entity_id"
            " WHERE f.target = 'solar' GROUP BY f.ts")).all())
        models = {r[0] for r in conn.execute(text(
            "SELECT DISTINCT model FROM forecasts WHERE target = 'solar'")).all()}
    assert len(zone) == 24 and set(zone) == set(meters)
    for ts, total in zone.items():
        assert total == pytest.approx(meters[ts], abs=1e-9)
    assert min(zone.values()) == 0.0 and max(zone.values()) > 0  # night is zero, day is not
    assert models == {"solar_fleet"}


def test_without_stored_weather_the_zone_solar_comes_from_its_history(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    _advance(clock, 10)
    (done,) = jobs.catch_up(app.tick_parts())
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM weather"))
        conn.execute(text("DELETE FROM weather_forecasts"))
    out = jobs.forecast(app.tick_parts().forecast, done.interval_start + HOUR)
    assert "no stored weather forecast at" in out["solar_model"]
    with app.engine.connect() as conn:
        models = {r[0] for r in conn.execute(text(
            "SELECT DISTINCT model FROM forecasts WHERE target = 'solar' AND origin ="
            " (SELECT MAX(origin) FROM forecasts) AND entity_id = :z"),
            {"z": app.settings.pricing.zone}).all()}
    assert models == {app.settings.models.forecast_model}


def test_the_fleet_trains_on_the_forecast_issue_not_the_later_observation(world, replay) -> None:  # type: ignore[no-untyped-def]
    """History hours are fitted on the newest issue made by their start; only hours without an
    issue fall back to the observation, noted per meter and audited. Here the observations
    read 30 % of the irradiance the panels had: fitted on them, the fleet's forecast is
    inflated; fitted on the issues (which match what the panels had), it is close to what the
    panels make."""
    from oracle.jobs.forecasting import solar_fleet
    from oracle.store import solar as solar_repo
    from oracle.store.engine import session_scope
    from oracle.store.tables import WeatherForecast
    from oracle.store.upsert import upsert

    app, clock = world
    start = clock.now_value
    irradiance = ("shortwave_radiation", "direct_normal_irradiance", "diffuse_radiation")
    with session_scope(app.engine) as session:
        places = [r[0] for r in session.execute(text("SELECT DISTINCT location FROM weather"))]
        observed = {p: solar_repo.weather_at(session, p, start - 30 * 24 * HOUR, start)
                    for p in places}
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE weather SET " + ", ".join(f"{c} = 0.3 * {c}" for c in irradiance)))
    inflated, why_not = solar_fleet(app.tick_parts().forecast, start)
    assert why_not is None and inflated is not None
    note = next(iter(inflated.notes.values()))
    assert "trained on 0 h of forecast issues" in note
    (audited,) = AuditLog(app.engine).list(kind="forecast.solar_weather")
    assert "observed_hours" in audited.payload
    with session_scope(app.engine) as session:  # each past hour's issue, made an hour before it
        for place, frame in observed.items():
            rows = [{"location": place, "issued_at": ts - HOUR, "ts": ts, **values,
                     "ingested_at": start} for ts, values in frame.to_dict("index").items()]
            upsert(session, WeatherForecast, rows, key=("location", "issued_at", "ts"))
    fleet, _ = solar_fleet(app.tick_parts().forecast, start)
    assert fleet is not None
    note = next(iter(fleet.notes.values()))
    assert "h of forecast issues and 0 h of observed weather" in note
    assert len(AuditLog(app.engine).list(kind="forecast.solar_weather")) == 1
    first = replay.index_of(start)
    truth = float(replay.production[:, first:first + 24].sum())
    assert fleet.zone["mean"].sum() == pytest.approx(truth, rel=0.15)
    # fitted on the dim observations the system looks 3x bigger (its learned AC limit, the
    # plateau production sat on, caps how much of that reaches a sunny day's forecast)
    assert inflated.zone["mean"].sum() > 1.3 * truth


def test_a_degraded_input_is_logged_once_on_change_and_once_on_recovery(
        world, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    """Two ticks without weather log one warning; the tick after it is back logs one recovery."""
    import logging

    from oracle.config import WeatherSettings
    from oracle.sources.weather import WeatherClient

    app, clock = world
    healthy = app.weather
    app.weather = WeatherClient(WeatherSettings(url="http://127.0.0.1:9", timeout_s=1),
                                retries=0)
    caplog.set_level(logging.INFO, logger="oracle")
    for _ in range(2):
        _advance(clock, 1)
        (outcome,) = jobs.catch_up(app.tick_parts())[-1:]
        assert outcome.stages["ingest"].startswith("degraded: weather unavailable")
    app.weather.close()
    app.weather = healthy
    _advance(clock, 1)
    jobs.catch_up(app.tick_parts())
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("degraded: running without weather") for m in messages) == 1
    assert sum(m == "weather recovered: no longer degraded" for m in messages) == 1


def test_above_the_fleet_limit_the_zone_solar_comes_from_its_history(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    models = app.settings.models.model_copy(update={"solar_fleet_max_meters": 0})
    app.settings = app.settings.model_copy(update={"models": models})
    _advance(clock, 10)
    (done,) = jobs.catch_up(app.tick_parts())
    out = jobs.forecast(app.tick_parts().forecast, done.interval_start)
    assert "exceed models.solar_fleet_max_meters (0)" in out["solar_model"]
    assert "solar_meters" not in out


def test_backend_down_for_several_ticks_is_caught_up_in_order(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    _advance(clock, 1)
    jobs.catch_up(app.tick_parts())
    healthy = app.backend
    dead = app.settings.backend.model_copy(update={"url": "http://127.0.0.1:9", "retries": 0})
    app.backend = BackendClient(dead)
    missed = []
    for _ in range(3):
        _advance(clock, 1)
        with pytest.raises(Exception, match="backend"):
            jobs.catch_up(app.tick_parts())
        missed.append(clock.now_value)
    app.backend = healthy
    done = jobs.catch_up(app.tick_parts())
    assert [o.interval_start for o in done] == missed
    assert all(o.stages["ingest"] == "ok" for o in done)


UNQUEUED = ("SELECT COUNT(*) FROM price_rounds p WHERE p.published AND NOT EXISTS "
            "(SELECT 1 FROM reports r WHERE r.report_id = p.report_id)")


def test_a_backend_outage_in_the_price_stage_stores_no_round_published_but_unqueued(
        world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The forward curve needs the tariffs (a backend read): when that read fails the interval
    is retried with nothing stored, never left as a round marked published with no report."""
    from oracle.errors import SourceUnavailable

    app, clock = world
    _advance(clock, 10)  # a first round: published by rule

    def down() -> dict[str, float]:
        raise SourceUnavailable("backend grid at http://127.0.0.1:9: connection refused")

    monkeypatch.setattr(app.tariffs, "current", down)
    with pytest.raises(SourceUnavailable, match="backend grid"):
        jobs.catch_up(app.tick_parts())
    assert _count(app, "SELECT COUNT(*) FROM price_rounds") == 0
    monkeypatch.undo()
    (done,) = jobs.catch_up(app.tick_parts())  # the same interval, now whole
    assert done.figures["price"]["publish"] == "first" and done.figures["price"]["queued"]
    assert _count(app, "SELECT COUNT(*) FROM price_rounds WHERE published") == 1
    assert _count(app, UNQUEUED) == 0


def test_rpc_down_queues_reports_that_land_in_order_later(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    assert app.txm is not None

    def down() -> None:
        raise RpcUnavailable("every RPC endpoint failing: connection refused")

    monkeypatch.setattr(app.txm, "tick", down)
    for _ in range(3):
        _advance(clock, 1)
        (outcome,) = jobs.catch_up(app.tick_parts())
        assert outcome.stages["submit"].startswith("deferred")
    queued = _count(app, "SELECT COUNT(*) FROM reports WHERE status = 'pending'")
    assert queued >= 3 and _count(app, "SELECT COUNT(*) FROM transactions") == 0
    monkeypatch.undo()
    jobs.submit(app.submit_parts())
    with app.engine.connect() as conn:
        nonces = [r[0] for r in conn.execute(text(
            "SELECT t.nonce FROM transactions t JOIN reports r ON r.report_id = t.report_id "
            "ORDER BY r.interval_start, r.kind"))]
    assert len(nonces) == queued
    assert sorted(nonces) == list(range(min(nonces), min(nonces) + queued))  # no gap


@pytest.mark.parametrize(("error", "expected"), [
    ("bad data", "skipped: SourceDataInvalid"),  # the model says the data is bad
    ("bug", "skipped: ModelError: detect: IndexError"),  # a bug inside a model
])
def test_a_failing_model_skips_only_its_stage(world, error, expected) -> None:  # type: ignore[no-untyped-def]
    from models.errors import InvalidInput

    app, clock = world

    class Broken:  # each group of meters is scored by vote_points
        def vote_points(self, frame):  # type: ignore[no-untyped-def]
            if error == "bug":
                raise IndexError("index 24 is out of bounds for axis 0 with size 24")
            raise InvalidInput("consumption_kwh is NaN", field="consumption_kwh", row="m1", value="nan")

    app.detector.replace(Broken(), clock.now_value)  # type: ignore[arg-type]  # what detect scores with
    for _ in range(2):  # and the next interval ticks too: a failing model never stalls the daemon
        _advance(clock, 1)
        (outcome,) = jobs.catch_up(app.tick_parts())
        assert outcome.stages["detect"].startswith(expected)
        assert outcome.stages["price"] == "ok" and outcome.stages["optimize"] == "ok"
    skipped = AuditLog(app.engine).list(kind="stage.skipped")
    assert len(skipped) == 2 and ("consumption_kwh" in skipped[-1].payload or "IndexError" in skipped[-1].payload)


def test_retrain_and_monitor_jobs_record_their_decisions(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    _advance(clock, 1)
    (ticked,) = jobs.catch_up(app.tick_parts())  # the first detect fits the detector
    holder = app.tick_parts().detect.detector
    assert ticked.stages["detect"] == "ok" and holder.fitted_at == ticked.interval_start

    def fitted_already():  # type: ignore[no-untyped-def]
        raise AssertionError("the detect stage refitted a detector it holds")

    by_tick = holder.current(fitted_already, clock.now_value)
    first = jobs.retrain(app.upkeep_parts())
    assert first["promoted"] and first["champion"] is None  # no champion yet: the first one wins
    assert first["detector_rows"] > 0  # the anomaly detector is refitted here, not in a tick
    # the retrain job replaced the detector the detect stage scores with
    by_retrain = app.tick_parts().detect.detector.current(fitted_already, clock.now_value)
    assert by_retrain is not by_tick and holder.fitted_at == clock.now_value.replace(minute=0)
    second = jobs.retrain(app.upkeep_parts())
    assert second["champion"] is not None and second["challenger"] is not None
    log = AuditLog(app.engine)
    assert len(log.list(kind="model.retrain")) == 2
    for _ in range(3):
        _advance(clock, 1)
        jobs.catch_up(app.tick_parts())
    result = jobs.monitor(app.upkeep_parts())
    assert result["live_mae"] is not None and result["live_mae"] >= 0
    assert len(log.list(kind="monitor.alert")) == result["alerts"]
    assert log.verify().ok


def test_a_first_tick_that_fails_is_retried_not_skipped(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    _advance(clock, 2)
    healthy = app.backend
    app.backend = BackendClient(app.settings.backend.model_copy(
        update={"url": "http://127.0.0.1:9", "retries": 0}))
    with pytest.raises(Exception, match="backend"):
        jobs.catch_up(app.tick_parts())  # dies inside its very first tick
    app.backend = healthy
    _advance(clock, 1)  # restarted an interval later: the failed one comes first
    done = jobs.catch_up(app.tick_parts())
    assert [o.interval_start for o in done] == [clock.now_value - HOUR, clock.now_value]


def test_daemon_forecaster_is_told_the_site_when_it_is_set() -> None:
    from models.forecasting.daylight import Site
    from oracle.config import Settings
    plain = jobs.forecaster_for(Settings().models)
    assert plain.site is None and plain.model == "ets"
    settings = Settings(models={"forecast_model": "mstl_ar_daylight", "site_latitude": 52.5,
                                "site_longitude": -1.5})
    forecaster = jobs.forecaster_for(settings.models)
    assert forecaster.site == Site(52.5, -1.5)
    index = pd.date_range("2024-09-01", periods=24 * 21, freq="h", tz=UTC)
    noise = np.random.default_rng(0).normal(0, 1, len(index))
    y = pd.Series(100 + 20 * np.sin(2 * np.pi * index.hour / 24) + noise, index=index)
    frame = forecaster.set_params(n_windows=2).fit(y).predict(24)
    assert np.isfinite(frame.to_numpy()).all() and frame.index[0] == index[-1] + HOUR


# ---------------------------------------------------------------- hostile input (issues 23, 16)


def _price_reports(app: Application) -> set[datetime]:
    """Intervals whose price report was queued for the chain (published)."""
    from sqlmodel import Session, col, select

    from oracle.store.tables import Report

    with Session(app.engine) as session:
        starts = session.exec(select(Report.interval_start).where(col(Report.kind) == "price"))
        return {ingestion_repo.utc(ts) for ts in starts}


def test_a_poisoned_page_keeps_the_tick_moving_and_is_fetched_once_healed(world) -> None:  # type: ignore[no-untyped-def]
    app, clock = world
    app.backend.close()
    app.backend = BackendClient(app.settings.backend.model_copy(
        update={"skip_after_passes": 1, "backoff_s": 0.0}))
    _advance(clock, 10)  # into the day: prices are published every interval
    jobs.catch_up(app.tick_parts())
    poisoned = clock.now_value  # readings of [T, T+1h) arrive with the next tick
    POISON["hour"] = poisoned
    outcomes = []
    for _ in range(2):  # skip_after_passes = 1: passed at once, then re-fetched behind
        _advance(clock, 1)
        (outcome,) = jobs.catch_up(app.tick_parts())
        outcomes.append(outcome)
        assert outcome.stages["ingest"].startswith("degraded: readings: interval")
        assert "nested deeper than 64" in outcome.stages["ingest"]
        assert outcome.stages["price"] == "ok" and outcome.stages["forecast"] == "ok"
        assert "ingest" in app.readiness.degraded
    assert [o.figures["ingest"]["skipped_intervals"] for o in outcomes] == [1, 1]
    assert ingestion_repo.load_cursor(app.engine, "readings").watermark == clock.now_value
    assert {o.interval_start for o in outcomes} <= _price_reports(app)  # prices published
    assert _hours_stored(app, poisoned) == 0
    POISON["hour"] = None  # the backend heals
    _advance(clock, 1)
    (healed,) = jobs.catch_up(app.tick_parts())
    assert healed.stages["ingest"] == "ok" and "ingest" not in app.readiness.degraded
    assert ingestion_repo.skipped_windows(app.engine, "readings") == []
    # every meter's reading of the poisoned hour is in now
    assert _hours_stored(app, poisoned) == _count(app, "SELECT COUNT(*) FROM meters")
    kinds = [e.kind for e in AuditLog(app.engine).list()]
    assert {"ingest.cursor_reset", "ingest.skipped", "ingest.recovered"} <= set(kinds)
    assert AuditLog(app.engine).verify().ok


def _hours_stored(app: Application, hour: datetime) -> int:
    from oracle.store.engine import session_scope
    from oracle.store.readings import readings_frame

    with session_scope(app.engine) as session:
        return len(readings_frame(session, hour, hour + HOUR))


def test_a_weather_outage_does_not_stop_the_tick(world) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from oracle.api.probes import create_api
    from oracle.config import WeatherSettings
    from oracle.sources.weather import WeatherClient

    app, clock = world
    healthy = app.weather
    app.weather = WeatherClient(WeatherSettings(url="http://127.0.0.1:9", timeout_s=1),
                                retries=0)
    _advance(clock, 11)
    (outcome,) = jobs.catch_up(app.tick_parts())
    assert outcome.stages["ingest"].startswith("degraded: weather unavailable")
    assert outcome.stages["forecast"].startswith("degraded: weather unavailable")
    # the weather forecast stored by an earlier pass still covers the next 24 h: it is used
    assert "solar forecast from the last stored weather forecast" in outcome.stages["forecast"]
    assert outcome.stages["price"] == "ok" and outcome.interval_start in _price_reports(app)
    assert outcome.figures["ingest"]["readings"] > 0 and outcome.figures["ingest"]["orders"] > 0
    (forecast,) = AuditLog(app.engine).list(kind="forecast")
    assert "weather unavailable" in forecast.payload
    assert AuditLog(app.engine).list(kind="ingest.weather_unavailable")
    ready = TestClient(create_api(app.metrics, app.readiness)).get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert "weather unavailable" in ready.json()["degraded"]["weather"]
    app.weather.close()
    app.weather = healthy  # the weather service is back
    _advance(clock, 1)
    (back,) = jobs.catch_up(app.tick_parts())
    assert back.stages["ingest"] == "ok" and back.stages["forecast"] == "ok"
    assert TestClient(create_api(app.metrics, app.readiness)).get("/readyz").json()[
        "degraded"] == {}

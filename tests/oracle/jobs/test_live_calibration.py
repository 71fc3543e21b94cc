"""Live calibration through the real forecast stage on SQLite with replayed demand: a steady bias
injected into the actuals is learned and the rolling coverage comes back, a re-run of a tick
learns nothing twice, and /metrics shows the live figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from oracle.api.probes import create_api
from oracle.app import Application, build
from oracle.cli.demo import SimClock, demo_settings
from oracle.errors import SourceDataInvalid
from oracle.jobs.calibration import LiveCalibration, live_scores
from oracle.jobs.forecasting import forecast
from oracle.store import migrate
from oracle.store.audit import AuditLog
from oracle.store.calibration import load_calibration
from oracle.store.engine import make_engine, session_scope
from oracle.store.readings import upsert_readings
from oracle.store.tables import AuditEntry, ForecastRow

pytestmark = pytest.mark.slow
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def replay():  # type: ignore[no-untyped-def]
    from oracle.simulator.replay import build_replay

    return build_replay(meters=12, weeks=4, seed=3)


def world(tmp_path: Path, replay: Any, bias_from: datetime | None,
          factor: float) -> Application:
    """The replay's readings in SQLite, consumption times ``factor`` from ``bias_from`` on; the
    forecast stage as the daemon runs it (per-meter fits off: this is about the zone)."""
    settings = demo_settings(None, tmp_path, None, None, "http://127.0.0.1:9")
    settings = settings.model_copy(update={"models": settings.models.model_copy(
        update={"solar_fleet_max_meters": 0, "demand_meters_max_meters": 0})})
    migrate.upgrade(make_engine(settings.database_url))
    app = build(settings, clock=SimClock(replay.start), with_chain=False, with_weather=False)
    rows = []
    for j, meter in enumerate(replay.meters):
        for i in range(replay.hours):
            ts = replay.start + i * HOUR
            biased = bias_from is not None and ts >= bias_from
            rows.append({"meter_id": meter["meter_id"], "ts": ts,
                         "consumption_kwh": float(replay.consumption[j, i]) * (factor if biased
                                                                               else 1.0),
                         "production_kwh": float(replay.production[j, i])})
    with session_scope(app.engine) as session:
        upsert_readings(session, rows)
    return app


@pytest.fixture
def app(tmp_path: Path, replay: Any) -> Iterator[Application]:
    application = world(tmp_path, replay, None, 1.0)
    yield application
    application.close()


def metric_samples(app: Application) -> dict[str, dict[str, float]]:
    text = TestClient(create_api(app.metrics, app.readiness)).get("/metrics").text
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[sample.labels.get("level", "")] = sample.value
    return found


def test_a_steady_bias_is_learned_and_the_95_coverage_returns_within_two_days(
        tmp_path: Path, replay: Any) -> None:
    """Eight hourly ticks on the real replay, then every actual 30 % higher from then on:
    two days of hourly ticks later the rolling (past 2 days) 95 % coverage of the stored
    one-step forecasts is within 90-98 %, and the correction learned is upward."""
    bias_from = replay.start + timedelta(days=22)
    app = world(tmp_path, replay, bias_from, 1.3)
    try:
        start = bias_from - timedelta(hours=8)  # learned on unbiased errors first
        while start <= bias_from + timedelta(days=2):
            out = forecast(app.tick_parts().forecast, start)
            start += HOUR
        with session_scope(app.engine) as session:
            live = live_scores(session, zone=app.settings.pricing.zone, until=start - HOUR)
        assert live["steps"] == 48
        assert 90 <= live["coverage_95"] <= 98, live
        assert out["live"] == live  # what the stage audited and exported
        assert out["calibration"]["mean_bias_kwh"] > 0  # actuals above the forecasts: upward
        gauges = metric_samples(app)
        assert gauges["oracle_forecast_coverage"]["95"] == pytest.approx(live["coverage_95"] / 100)
        assert gauges["oracle_forecast_coverage"]["80"] == pytest.approx(live["coverage_80"] / 100)
        assert gauges["oracle_forecast_bias_kwh"][""] == pytest.approx(live["bias_kwh"])
        assert gauges["oracle_forecast_bias_correction_kwh"][""] == pytest.approx(
            out["calibration"]["bias_kwh"])
    finally:
        app.close()


def test_rerunning_a_tick_learns_nothing_twice(app: Application, replay: Any) -> None:
    start = replay.start + timedelta(days=21)
    for k in range(4):
        out = forecast(app.tick_parts().forecast, start + k * HOUR)
    last = start + 3 * HOUR
    zone = app.settings.pricing.zone
    with session_scope(app.engine) as session:
        before = load_calibration(session, "demand", zone)
        assert before is not None
        state, watermark = before.state, before.watermark
        stored = [(r.ts, r.mean, r.lo_95, r.hi_95) for r in session.exec(
            select(ForecastRow).where(col(ForecastRow.entity_id) == zone,
                                      col(ForecastRow.target) == "demand",
                                      col(ForecastRow.origin) == last)
            .order_by(col(ForecastRow.ts))).all()]
    assert out["calibration"]["updates"] == 3 and out["calibration"]["learned"] == 3
    again = forecast(app.tick_parts().forecast, last)
    assert again["calibration"]["learned"] == 0
    assert again["calibration"]["updates"] == 3
    with session_scope(app.engine) as session:
        after = load_calibration(session, "demand", zone)
        assert after is not None and after.state == state and after.watermark == watermark
        rerun = [(r.ts, r.mean, r.lo_95, r.hi_95) for r in session.exec(
            select(ForecastRow).where(col(ForecastRow.entity_id) == zone,
                                      col(ForecastRow.target) == "demand",
                                      col(ForecastRow.origin) == last)
            .order_by(col(ForecastRow.ts))).all()]
        audited = session.exec(select(AuditEntry).where(col(AuditEntry.kind) == "forecast")
                               .order_by(col(AuditEntry.seq).desc())).first()
    assert rerun == stored
    assert audited is not None and '"bias_kwh"' in audited.payload and '"scale_95"' in audited.payload
    assert AuditLog(app.engine).verify().ok


def test_metrics_show_the_live_coverage_and_bias(app: Application, replay: Any) -> None:
    start = replay.start + timedelta(days=21)
    for k in range(6):
        out = forecast(app.tick_parts().forecast, start + k * HOUR)
    gauges = metric_samples(app)
    assert set(gauges["oracle_forecast_coverage"]) == {"80", "95"}
    assert gauges["oracle_forecast_coverage"]["95"] == pytest.approx(
        out["live"]["coverage_95"] / 100)
    assert gauges["oracle_forecast_bias_kwh"][""] == pytest.approx(out["live"]["bias_kwh"])
    assert set(gauges["oracle_forecast_interval_scale"]) == {"80", "95"}
    assert out["live"]["steps"] == 5


def test_a_foreign_state_is_refused_naming_the_field() -> None:
    with pytest.raises(SourceDataInvalid, match=r"forecast_calibration\.state") as err:
        LiveCalibration.from_state({"format": "something-else/9"}, None, 24)
    assert err.value.field == "forecast_calibration.state"

"""Per-meter demand forecasts through the real forecast stage on SQLite (replayed meters, the
global model per group of meters through the executor), reconciled to the zone's, stored and
served by ``GET /forecast/demand`` (FastAPI TestClient over the same store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from oracle.api.probes import Readiness, create_api
from oracle.api.routes import bearer_guard
from oracle.api.stored import stored_router
from oracle.app import Application, build
from oracle.cli.demo import SimClock, demo_settings
from oracle.jobs.forecasting import forecast
from oracle.jobs.meter_forecasts import MODEL, due
from oracle.store import migrate
from oracle.store.engine import make_engine, session_scope
from oracle.store.ingestion import upsert_meters
from oracle.store.readings import upsert_readings
from oracle.telemetry import Metrics

pytestmark = pytest.mark.slow
HOUR = timedelta(hours=1)
METER_COLUMNS = ("meter_id", "user_id", "node_id", "kind", "pv_kwp", "storage_kwh", "lat", "lon")
EXTRA = {"meter_id": "m09999", "user_id": "u00000", "node_id": "n00", "kind": "consumer",
         "pv_kwp": 0.0, "storage_kwh": 0.0, "lat": 36.1, "lon": -79.95}  # the first user's second


def make_app(path: Path, max_meters: int, group_size: int) -> tuple[Application, datetime]:
    from oracle.simulator.replay import build_replay

    replay = build_replay(meters=12, weeks=4, seed=3)
    settings = demo_settings(None, path, None, None, "http://127.0.0.1:9")
    settings = settings.model_copy(update={
        "models": settings.models.model_copy(update={"solar_fleet_max_meters": 0,
                                                     "demand_meters_max_meters": max_meters}),
        "compute": settings.compute.model_copy(update={"group_size": group_size})})
    migrate.upgrade(make_engine(settings.database_url))
    app = build(settings, clock=SimClock(replay.start), with_chain=False, with_weather=False)
    upsert_meters(app.engine, [{c: m[c] for c in METER_COLUMNS if c in m} for m in replay.meters]
                  + [EXTRA])
    rows = [{"meter_id": m["meter_id"], "ts": replay.start + i * HOUR,
             "consumption_kwh": float(replay.consumption[j, i]),
             "production_kwh": float(replay.production[j, i])}
            for j, m in enumerate(replay.meters) for i in range(replay.hours)]
    rows += [{"meter_id": EXTRA["meter_id"], "ts": replay.start + i * HOUR,
              "consumption_kwh": 0.5 * float(replay.consumption[1, i])}
             for i in range(replay.hours)]
    with session_scope(app.engine) as session:
        upsert_readings(session, rows)
    return app, replay.start + timedelta(days=21)


@pytest.fixture(scope="module")
def ticked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Application, datetime,
                                                                        dict[str, Any]]]:
    """One forecast stage with 13 meters in groups of 5 (three groups, three global models)."""
    app, start = make_app(tmp_path_factory.mktemp("meters"), max_meters=1000, group_size=5)
    out = forecast(app.tick_parts().forecast, start)
    yield app, start, out
    app.close()


def stored(app: Application, sql: str) -> pd.DataFrame:
    with app.engine.connect() as conn:
        return pd.read_sql(text(sql), conn)


def test_every_meter_is_forecast_and_the_meters_add_up_to_the_zone(ticked) -> None:  # type: ignore[no-untyped-def]
    app, _, out = ticked
    zone = app.settings.pricing.zone
    assert out["demand_meters"] == 13 and "demand_meters_off" not in out
    meters = stored(app, f"SELECT * FROM forecasts WHERE target = 'demand' AND entity_id != '{zone}'")
    assert set(meters["model"]) == {MODEL}
    assert meters["entity_id"].nunique() == 13 and len(meters) == 13 * 24
    zone_rows = stored(app, f"SELECT ts, mean FROM forecasts WHERE target = 'demand' AND "
                            f"entity_id = '{zone}'").set_index("ts")["mean"]
    total = meters.groupby("ts")["mean"].sum()
    assert len(zone_rows) == 24
    np.testing.assert_allclose(total.reindex(zone_rows.index).to_numpy(), zone_rows.to_numpy(),
                               rtol=1e-9)
    assert (meters["lo_95"] <= meters["lo_80"]).all() and (meters["lo_80"] <= meters["mean"]).all()
    assert (meters["mean"] <= meters["hi_80"]).all() and (meters["hi_80"] <= meters["hi_95"]).all()
    # each meter keeps its own level: m09999 uses half of what m00001 uses, hour by hour
    means = meters.groupby("entity_id")["mean"].mean()
    assert 0.4 < means["m09999"] / means["m00001"] < 0.6


def test_a_fleet_over_the_cap_gets_no_meter_forecasts_and_says_why(tmp_path: Path) -> None:
    app, start = make_app(tmp_path, max_meters=5, group_size=2000)
    try:
        out = forecast(app.tick_parts().forecast, start)
        assert out["demand_meters"] == 0
        assert "13 meters exceed models.demand_meters_max_meters (5)" in out["demand_meters_off"]
        rows = stored(app, "SELECT COUNT(*) AS n FROM forecasts WHERE target = 'demand'")
        assert int(rows["n"].iloc[0]) == 24  # the zone's forecast only
    finally:
        app.close()


def client_for(app: Application, token: str | None = None) -> TestClient:
    api = create_api(Metrics(), Readiness(), routers=[stored_router(app.engine,
                                                                    bearer_guard(token))])
    return TestClient(api, raise_server_exceptions=False)


def test_get_forecast_demand_serves_a_meter_and_a_user(ticked) -> None:  # type: ignore[no-untyped-def]
    app, start, _ = ticked
    meters = stored(app, "SELECT entity_id, ts, mean, hi_95 FROM forecasts WHERE target = "
                         "'demand' AND entity_id IN ('m00000', 'm09999') ORDER BY ts")
    with client_for(app) as client:
        one = client.get("/forecast/demand", params={"meter_id": "m00000"})
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["meter_ids"] == ["m00000"] and body["horizon"] == 24
        assert body["model"] == MODEL
        assert pd.Timestamp(body["origin"]) == pd.Timestamp(start)
        mine = meters[meters["entity_id"] == "m00000"]
        np.testing.assert_allclose([s["mean"] for s in body["forecast"]], mine["mean"], rtol=1e-12)
        user = client.get("/forecast/demand", params={"user_id": "u00000"}).json()
        assert user["user_id"] == "u00000" and user["meter_ids"] == ["m00000", "m09999"]
        both = meters.groupby("ts")[["mean", "hi_95"]].sum()
        np.testing.assert_allclose([s["mean"] for s in user["forecast"]], both["mean"],
                                   rtol=1e-12)
        np.testing.assert_allclose([s["bounds"]["hi_95"] for s in user["forecast"]],
                                   both["hi_95"], rtol=1e-12)


def test_unknown_or_unforecast_ids_are_404s_naming_them(ticked) -> None:  # type: ignore[no-untyped-def]
    app, _, _ = ticked
    upsert_meters(app.engine, [{**EXTRA, "meter_id": "m-new", "user_id": "u-new"}])
    with client_for(app) as client:
        for params, named in (({"meter_id": "nope"}, "unknown meter_id 'nope'"),
                              ({"user_id": "nobody"}, "unknown user_id 'nobody': no meter of that user"),
                              ({"meter_id": "m-new"}, "no stored demand forecast for meter_id "
                                                      "'m-new' yet"),
                              ({"user_id": "u-new"}, "no stored demand forecast for user_id "
                                                     "'u-new' yet")):
            answer = client.get("/forecast/demand", params=params)
            assert answer.status_code == 404, (params, answer.text)
            detail = answer.json()["detail"][0]
            assert detail["msg"] == named and detail["loc"] == ["query", next(iter(params))]
        for params in ({}, {"meter_id": "m00000", "user_id": "u00000"}):
            answer = client.get("/forecast/demand", params=params)
            assert answer.status_code == 422 and "exactly one" in answer.text
    with client_for(app, token="s3cret") as client:
        assert client.get("/forecast/demand", params={"meter_id": "m00000"}).status_code == 401
        ok = client.get("/forecast/demand", params={"meter_id": "m00000"},
                        headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_due_spaces_the_fits_in_market_time_and_remakes_a_rerun_origin() -> None:
    t = datetime(2026, 1, 5, 12, tzinfo=UTC)
    assert due(None, t, 6) is None  # nothing stored yet
    assert due(t, t, 6) is None  # a re-run tick remakes its own origin's
    assert due(t - 6 * HOUR, t, 6) is None and due(t - 7 * HOUR, t, 6) is None
    held = due(t - 5 * HOUR, t, 6)
    assert held is not None and "2026-01-05 07:00" in held and "demand_meters_every_h = 6" in held
    later = due(t + HOUR, t, 6)
    assert later is not None and "later origin (2026-01-05 13:00)" in later


# last in the module: it adds origins to the shared store the tests above read
def test_between_fits_the_stored_meter_forecasts_hold_and_each_origin_adds_up(ticked) -> None:  # type: ignore[no-untyped-def]
    app, start, _ = ticked
    parts = app.tick_parts().forecast
    every = parts.models.demand_meters_every_h
    held = forecast(parts, start + HOUR)
    assert held["demand_meters"] == 0 and "demand_meters_off" not in held
    assert f"demand_meters_every_h = {every}" in held["demand_meters_held"]
    made = forecast(parts, start + every * HOUR)
    assert made["demand_meters"] == 13
    zone = app.settings.pricing.zone
    rows = stored(app, "SELECT entity_id, origin, ts, mean FROM forecasts WHERE target = 'demand'")
    rows["origin"] = pd.to_datetime(rows["origin"], utc=True)
    meters = rows[rows["entity_id"] != zone]
    assert sorted(meters["origin"].unique()) == [pd.Timestamp(start),
                                                 pd.Timestamp(start + every * HOUR)]
    for origin, part in meters.groupby("origin"):  # each origin's meters add up to its zone
        own = rows[(rows["entity_id"] == zone) & (rows["origin"] == origin)].set_index("ts")
        total = part.groupby("ts")["mean"].sum().reindex(own.index)
        np.testing.assert_allclose(total.to_numpy(), own["mean"].to_numpy(), rtol=1e-9)
    with client_for(app) as client:  # the newest meter forecasts are served
        body = client.get("/forecast/demand", params={"meter_id": "m00000"}).json()
        assert pd.Timestamp(body["origin"]) == pd.Timestamp(start + every * HOUR)

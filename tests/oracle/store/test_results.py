"""The results repository on SQLite and PostgreSQL: forecasts read back for many entities,
forecasts of the zone (not of a meter), price rounds by key and by report, anomalies, the newest
dispatch schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from oracle.store import results
from oracle.store.audit import as_utc
from oracle.store.engine import session_scope
from oracle.store.ingestion import upsert_meters
from oracle.store.results import latest_forecasts
from oracle.store.tables import ForecastRow
from oracle.store.upsert import upsert

T0 = datetime(2026, 1, 5, tzinfo=UTC)
H = timedelta(hours=1)
FLEET = 70_000  # meters: past SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def _step(entity_id: str, origin: datetime, ts: datetime, mean: float) -> dict[str, object]:
    return {"target": "demand", "entity_id": entity_id, "origin": origin, "ts": ts,
            "mean": mean, "lo_80": mean - 1, "hi_80": mean + 1, "lo_95": None, "hi_95": None,
            "model": "m", "created_at": T0}


@pytest.mark.slow
def test_latest_forecasts_of_a_fleet_past_the_drivers_parameter_limits(
        strict_engine: Engine) -> None:
    ids = [f"m{i:05d}" for i in range(FLEET)]
    older = [_step(m, T0, T0 + H, 1.0) for m in ids[::9_999]]  # one in each chunk
    newest = [_step(m, T0 + H, T0 + h * H, float(h)) for m in (ids[-1], ids[45_000])
              for h in (3, 2)]
    elsewhere = [_step("other", T0 + 2 * H, T0 + 3 * H, 9.0)]  # not asked for
    with session_scope(strict_engine) as s:
        upsert(s, ForecastRow, older + newest + elsewhere,
               key=("target", "entity_id", "origin", "ts"))
    with session_scope(strict_engine) as s:
        frame = latest_forecasts(s, target="demand", entity_ids=ids)
    assert list(frame.columns) == ["entity_id", "origin", "ts", "mean", "lo_80", "hi_80",
                                   "lo_95", "hi_95", "model"]
    # the newest origin any of them has (in two late chunks), steps ordered by ts, entity
    assert list(zip(frame["entity_id"], frame["ts"], frame["mean"], strict=True)) == [
        (ids[45_000], pd.Timestamp(T0 + 2 * H), 2.0), (ids[-1], pd.Timestamp(T0 + 2 * H), 2.0),
        (ids[45_000], pd.Timestamp(T0 + 3 * H), 3.0), (ids[-1], pd.Timestamp(T0 + 3 * H), 3.0)]
    assert set(frame["origin"]) == {pd.Timestamp(T0 + H)}
    assert str(frame["ts"].dt.tz) == "UTC" and frame["lo_95"].isna().all()



def _forecast(steps: int) -> pd.DataFrame:
    index = pd.date_range(T0, periods=steps, freq="h", tz="UTC")
    return pd.DataFrame({"mean": [1.0] * steps, "lo_80": [0.5] * steps, "hi_80": [1.5] * steps},
                        index=index)


def _round(zone: str, start: datetime, price: float | None, report_id: str | None) -> dict:
    return {"zone": zone, "interval_start": start, "rule": "uniform", "price": price,
            "volume_kwh": 2.0, "components": {}, "matches": [], "published": report_id is not None,
            "report_id": report_id}


def test_zone_forecasts_leave_out_the_meters_own(engine: Engine) -> None:
    upsert_meters(engine, [{"meter_id": "m1", "user_id": "u1", "node_id": "n1",
                            "kind": "consumer"}])
    with session_scope(engine) as session:
        for entity in ("zone-1", "n1", "m1"):
            results.save_forecast(session, target="demand", entity_id=entity, origin=T0,
                                  frame=_forecast(3), model="gbm")
        results.save_forecast(session, target="solar", entity_id="zone-1", origin=T0,
                              frame=_forecast(2), model="pv")
    with session_scope(engine) as session:
        demand = results.zone_forecasts(session, "demand")
        assert sorted({r.entity_id for r in demand}) == ["n1", "zone-1"] and len(demand) == 6
        assert {(r.entity_id, r.model) for r in results.zone_forecasts(session, "solar")} == {
            ("zone-1", "pv")}
        assert results.zone_forecasts(session, "wind") == []


def test_price_rounds_by_key_all_and_by_report_oldest_first(engine: Engine) -> None:
    with session_scope(engine) as session:
        results.save_price_round(session, **_round("zone-1", T0 + 2 * H, 0.3, "rB"))
        results.save_price_round(session, **_round("zone-1", T0, 0.1, "rA"))
        results.save_price_round(session, **_round("zone-2", T0 + H, None, None))
    with session_scope(engine) as session:
        found = results.price_round(session, "zone-1", T0 + 2 * H)
        assert found is not None and (found.price, found.report_id) == (0.3, "rB")
        assert results.price_round(session, "zone-2", T0) is None
        assert results.price_round(session, "zone-3", T0) is None
        assert len(results.price_rounds(session)) == 3
        by_report = results.rounds_of_reports(session, ["rB", "rA", "nope"])
        assert [(r.report_id, as_utc(r.interval_start)) for r in by_report] == [
            ("rA", T0), ("rB", T0 + 2 * H)]
        assert results.rounds_of_reports(session, []) == []


def test_anomalies_and_the_newest_schedule(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert results.anomalies(session) == [] and results.latest_schedule(session) is None
        results.save_anomalies(session, T0, pd.DataFrame([
            {"meter_id": "m1", "ts": T0, "type": "spike", "score": 3.0, "severity": "high",
             "confidence": 0.9, "recommended_action": "inspect"},
            {"meter_id": "m2", "ts": T0, "type": "flat", "score": 1.0, "severity": "low",
             "confidence": 0.5, "recommended_action": "watch"}]), None)
        for hours in (0, 3, 1):
            results.save_schedule(session, zone="zone-1", interval_start=T0 + hours * H,
                                  horizon_h=24, total_cost=float(hours), renewable_share=0.5,
                                  carbon_kg=1.0, peak_reduction=0.1, schedule={"h": hours},
                                  schedule_hash="0x00")
    with session_scope(engine) as session:
        assert sorted((a.meter_id, a.type) for a in results.anomalies(session)) == [
            ("m1", "spike"), ("m2", "flat")]
        newest = results.latest_schedule(session)
        assert newest is not None and newest.schedule == {"h": 3}

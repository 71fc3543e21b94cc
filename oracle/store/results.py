"""Repositories for what the models produce: forecasts, price rounds, anomalies, schedules.

Each write is an upsert on the row's natural key, so re-running a tick for the same interval
writes the same rows again instead of new ones.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlmodel import Session, col, select

from oracle.store.chunks import chunks
from oracle.store.tables import (
    AnomalyRow,
    DispatchSchedule,
    ForecastRow,
    MarketOrder,
    Meter,
    PriceRound,
)
from oracle.store.upsert import upsert


def save_forecast(session: Session, *, target: str, entity_id: str, origin: datetime,
                  frame: pd.DataFrame, model: str, model_version: str | None = None) -> int:
    """Store a forecast frame (index: future timestamps; mean, lo_80, hi_80, lo_95, hi_95)."""
    now = datetime.now(UTC)
    rows = [{"target": target, "entity_id": entity_id, "origin": origin,
             "ts": ts.to_pydatetime(), "mean": float(r["mean"]),
             **{c: (float(r[c]) if c in r and pd.notna(r[c]) else None)
                for c in ("lo_80", "hi_80", "lo_95", "hi_95")},
             "model": model, "model_version": model_version, "created_at": now}
            for ts, r in frame.iterrows()]
    return upsert(session, ForecastRow, rows, key=("target", "entity_id", "origin", "ts"))


def first_step_forecasts(session: Session, *, target: str, entity_id: str, since: datetime,
                         until: datetime) -> list[ForecastRow]:
    """The one-step forecasts (origin == ts) of ``entity_id`` whose hour is in [since, until)."""
    return list(session.exec(select(ForecastRow).where(
        col(ForecastRow.target) == target, col(ForecastRow.entity_id) == entity_id,
        col(ForecastRow.origin) == col(ForecastRow.ts), col(ForecastRow.ts) < until,
        col(ForecastRow.ts) >= since)).all())


def newest_origin(session: Session, *, target: str, model: str) -> datetime | None:
    """The newest origin of any stored ``target`` forecast made by ``model`` (UTC), or None."""
    newest = session.exec(select(func.max(ForecastRow.origin)).where(
        col(ForecastRow.target) == target, col(ForecastRow.model) == model)).first()
    if newest is None:
        return None
    return newest if newest.tzinfo is not None else newest.replace(tzinfo=UTC)


def forecast_frame(session: Session, *, target: str, entity_id: str,
                   origin: datetime) -> pd.DataFrame:
    rows = session.exec(select(ForecastRow).where(
        col(ForecastRow.target) == target, col(ForecastRow.entity_id) == entity_id,
        col(ForecastRow.origin) == origin).order_by(col(ForecastRow.ts))).all()
    return pd.DataFrame([r.model_dump() for r in rows])


def save_price_round(session: Session, **fields: Any) -> None:
    fields.setdefault("created_at", datetime.now(UTC))
    upsert(session, PriceRound, [fields], key=("zone", "interval_start"))


def last_published_round(session: Session, zone: str, before: datetime) -> PriceRound | None:
    """The latest published round of ``zone`` strictly before ``before``."""
    return session.exec(select(PriceRound).where(
        col(PriceRound.zone) == zone, col(PriceRound.published).is_(True),
        col(PriceRound.interval_start) < before,
    ).order_by(col(PriceRound.interval_start).desc()).limit(1)).first()


def save_anomalies(session: Session, interval_start: datetime, frame: pd.DataFrame,
                   report_id: str | None) -> int:
    now = datetime.now(UTC)
    rows = [{"interval_start": interval_start, "meter_id": str(r["meter_id"]),
             "ts": pd.Timestamp(r["ts"]).to_pydatetime(), "type": str(r["type"]),
             "score": float(r["score"]), "severity": str(r["severity"]),
             "confidence": float(r["confidence"]),
             "recommended_action": str(r["recommended_action"])[:200],
             "report_id": report_id, "created_at": now} for _, r in frame.iterrows()]
    return upsert(session, AnomalyRow, rows, key=("meter_id", "ts", "type"))


def save_schedule(session: Session, **fields: Any) -> None:
    fields.setdefault("created_at", datetime.now(UTC))
    upsert(session, DispatchSchedule, [fields], key=("zone", "interval_start"))


def orders_frame(session: Session, interval_start: datetime) -> pd.DataFrame:
    """Market orders of one interval: order_id, user_id, meter_id, node_id, side, quantity_kwh,
    limit_price, ts."""
    rows = session.exec(select(MarketOrder).where(
        col(MarketOrder.interval_start) == interval_start).order_by(col(MarketOrder.order_id))).all()
    columns = ["order_id", "user_id", "meter_id", "node_id", "side", "quantity_kwh",
               "limit_price", "ts"]
    return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)


def meters_of_user(session: Session, user_id: str) -> list[str]:
    """The ids of ``user_id``'s meters (none: the user is unknown)."""
    return list(session.exec(select(Meter.meter_id).where(col(Meter.user_id) == user_id)
                             .order_by(col(Meter.meter_id))).all())


def meter_exists(session: Session, meter_id: str) -> bool:
    return session.get(Meter, meter_id) is not None


def latest_forecasts(session: Session, *, target: str, entity_ids: list[str]) -> pd.DataFrame:
    """The steps of the newest origin any of ``entity_ids`` has a ``target`` forecast for, each
    entity's own (entity_id, origin, ts, mean, lo_80, hi_80, lo_95, hi_95, model), ordered by
    ts and entity_id; empty when there is none. Read a chunk of entities per statement."""
    columns = ["entity_id", "origin", "ts", "mean", "lo_80", "hi_80", "lo_95", "hi_95", "model"]
    newest = max((origin for chunk in chunks(entity_ids)
                  if (origin := session.exec(select(func.max(ForecastRow.origin)).where(
                      col(ForecastRow.target) == target,
                      col(ForecastRow.entity_id).in_(chunk))).first()) is not None),
                 default=None)
    if newest is None:
        return pd.DataFrame(columns=columns)
    rows = [{c: getattr(r, c) for c in columns} for chunk in chunks(entity_ids)
            for r in session.exec(select(ForecastRow).where(
                col(ForecastRow.target) == target, col(ForecastRow.entity_id).in_(chunk),
                col(ForecastRow.origin) == newest))]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("origin", "ts"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values(["ts", "entity_id"], kind="stable", ignore_index=True)


def zone_forecasts(session: Session, target: str) -> list[ForecastRow]:
    """Every stored ``target`` forecast step of a non-meter entity (the zone's, a node's)."""
    return list(session.exec(select(ForecastRow).where(
        col(ForecastRow.target) == target,
        col(ForecastRow.entity_id).not_in(select(Meter.meter_id)))).all())


def price_round(session: Session, zone: str, interval_start: datetime) -> PriceRound | None:
    """The stored round of ``zone`` for ``interval_start``, or None."""
    return session.get(PriceRound, (zone, interval_start))


def price_rounds(session: Session) -> list[PriceRound]:
    """Every stored price round, in no particular order."""
    return list(session.exec(select(PriceRound)).all())


def rounds_of_reports(session: Session, report_ids: Collection[str]) -> list[PriceRound]:
    """The price rounds published by ``report_ids``, oldest interval first."""
    return list(session.exec(select(PriceRound).where(
        col(PriceRound.report_id).in_(tuple(report_ids)))
        .order_by(col(PriceRound.interval_start))).all())


def anomalies(session: Session) -> list[AnomalyRow]:
    """Every stored anomaly, in no particular order."""
    return list(session.exec(select(AnomalyRow)).all())


def latest_schedule(session: Session) -> DispatchSchedule | None:
    """The dispatch schedule of the newest interval (any zone), or None."""
    return session.exec(select(DispatchSchedule)
                        .order_by(col(DispatchSchedule.interval_start).desc())).first()

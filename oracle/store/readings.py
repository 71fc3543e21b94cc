"""Readings repository: idempotent upserts on (meter_id, ts), and frames for the models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from oracle.store.tables import Meter, Reading
from oracle.store.upsert import upsert


def upsert_readings(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or update readings keyed on (meter_id, ts); returns the number of rows written.

    Re-running with the same rows leaves exactly one row per key (the last values win).
    """
    now = datetime.now(UTC)
    prepared = [{"meter_id": r["meter_id"], "ts": r["ts"],
                 "consumption_kwh": float(r["consumption_kwh"]),
                 "production_kwh": float(r.get("production_kwh") or 0.0),
                 "ingested_at": r.get("ingested_at", now)} for r in rows]
    return upsert(session, Reading, prepared, key=("meter_id", "ts"))


def _utc_column(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series)
    return values.dt.tz_localize(UTC) if values.dt.tz is None else values.dt.tz_convert(UTC)


def readings_frame(session: Session, since: datetime, until: datetime) -> pd.DataFrame:
    """Readings in [since, until) with each meter's node: meter_id, node_id, ts, consumption_kwh,
    production_kwh, ordered by meter and time."""
    query = (sa_select(col(Reading.meter_id), col(Meter.node_id), col(Reading.ts),
                       col(Reading.consumption_kwh), col(Reading.production_kwh))
             .join(Meter, col(Meter.meter_id) == col(Reading.meter_id), isouter=True)
             .where(col(Reading.ts) >= since, col(Reading.ts) < until)
             .order_by(col(Reading.meter_id), col(Reading.ts)))
    frame = pd.DataFrame(session.execute(query).all(),
                         columns=["meter_id", "node_id", "ts", "consumption_kwh", "production_kwh"])
    if not frame.empty:
        frame["ts"] = _utc_column(frame["ts"])
    return frame


def totals_frame(session: Session, since: datetime, until: datetime, *,
                 by_node: bool = False) -> pd.DataFrame:
    """Energy summed per hour in [since, until) — over the zone, or per node — computed in SQL so
    that large fleets are not loaded row by row: ts, [node_id,] consumption_kwh, production_kwh."""
    keys = [col(Reading.ts), col(Meter.node_id)] if by_node else [col(Reading.ts)]
    query = (sa_select(*keys, func.sum(Reading.consumption_kwh), func.sum(Reading.production_kwh))
             .where(col(Reading.ts) >= since, col(Reading.ts) < until)
             .group_by(*keys).order_by(*keys))
    if by_node:
        query = query.join(Meter, col(Meter.meter_id) == col(Reading.meter_id))
    columns = ["ts", *(["node_id"] if by_node else []), "consumption_kwh", "production_kwh"]
    frame = pd.DataFrame(session.execute(query).all(), columns=columns)
    if not frame.empty:
        frame["ts"] = _utc_column(frame["ts"])
    return frame


def consumption_rows(session: Session) -> list[tuple[datetime, float]]:
    """Every reading's (ts, consumption_kwh), in no particular order."""
    return [(ts, kwh) for ts, kwh in session.exec(
        select(Reading.ts, Reading.consumption_kwh)).all()]

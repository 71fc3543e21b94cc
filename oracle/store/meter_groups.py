"""Meters in groups: listed and cut into ranges in the database's own order, readings read by
meter range, anomalies written back one batch per (interval, meter group).

A group owns the half-open range ``[lo, hi)`` of meter ids in the database's collation (None:
unbounded), so the ranges of one listing cover every meter exactly once, also one that appears
after the listing. ``meters`` are the ids listed in the range (for the models' per-meter state).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from oracle.errors import ConfigError
from oracle.store.readings import _utc_column
from oracle.store.tables import AnomalyRow, Meter, Reading
from oracle.store.upsert import upsert

COLUMNS = ["meter_id", "node_id", "ts", "consumption_kwh", "production_kwh"]


@dataclass(frozen=True)
class MeterGroup:
    """Meter ids in ``[lo, hi)`` (database order); ``meters``: the ones listed there."""

    index: int
    lo: str | None
    hi: str | None
    meters: tuple[str, ...]

    def __repr__(self) -> str:  # the ids can be many: name the range only
        return f"MeterGroup({self.index}, [{self.lo!r}, {self.hi!r}), {len(self.meters)} meters)"


def meter_ids(session: Session, since: datetime, until: datetime) -> list[str]:
    """Ids of the meters with readings in [since, until), in the database's order."""
    query = (sa_select(col(Reading.meter_id)).where(col(Reading.ts) >= since, col(Reading.ts) < until)
             .group_by(col(Reading.meter_id)).order_by(col(Reading.meter_id)))
    return [r[0] for r in session.execute(query)]


def split(meters: Sequence[str], size: int) -> list[MeterGroup]:
    """Cut ids listed in database order into groups of ``size`` covering every id once."""
    if size < 1:
        raise ConfigError(f"setting 'compute.group_size' = {size}: must be at least 1",
                          key="compute.group_size", value=size)
    chunks = [tuple(meters[i:i + size]) for i in range(0, len(meters), size)]
    return [MeterGroup(i, None if i == 0 else chunk[0],
                       chunks[i + 1][0] if i + 1 < len(chunks) else None, chunk)
            for i, chunk in enumerate(chunks)]


def _in_range(column: Any, group: MeterGroup) -> list[Any]:
    where = []
    if group.lo is not None:
        where.append(column >= group.lo)
    if group.hi is not None:
        where.append(column < group.hi)
    return where


def group_readings(session: Session, group: MeterGroup, since: datetime,
                   until: datetime) -> pd.DataFrame:
    """The group's readings in [since, until) with each meter's node (``readings_frame``'s
    columns and order)."""
    query = (sa_select(col(Reading.meter_id), col(Meter.node_id), col(Reading.ts),
                       col(Reading.consumption_kwh), col(Reading.production_kwh))
             .join(Meter, col(Meter.meter_id) == col(Reading.meter_id), isouter=True)
             .where(col(Reading.ts) >= since, col(Reading.ts) < until,
                    *_in_range(col(Reading.meter_id), group))
             .order_by(col(Reading.meter_id), col(Reading.ts)))
    frame = pd.DataFrame(session.execute(query).all(), columns=COLUMNS)
    if not frame.empty:
        frame["ts"] = _utc_column(frame["ts"])
    return frame


def save_group_anomalies(session: Session, interval_start: datetime, group: MeterGroup,
                         frame: pd.DataFrame, report_id: str | None) -> int:
    """Replace the group's anomalies of the interval by ``frame``'s, in the caller's
    transaction: a re-run of the group (a lost worker's) leaves each row once."""
    session.execute(delete(AnomalyRow).where(col(AnomalyRow.interval_start) == interval_start,
                                             *_in_range(col(AnomalyRow.meter_id), group)))
    now = datetime.now(UTC)
    rows = [{"interval_start": interval_start, "meter_id": str(r.meter_id),
             "ts": pd.Timestamp(r.ts).to_pydatetime(), "type": str(r.type),
             "score": float(r.score), "severity": str(r.severity),
             "confidence": float(r.confidence),
             "recommended_action": str(r.recommended_action)[:200],
             "report_id": report_id, "created_at": now} for r in frame.itertuples(index=False)]
    return upsert(session, AnomalyRow, rows, key=("meter_id", "ts", "type"))


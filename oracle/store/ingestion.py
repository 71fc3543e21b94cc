"""Ingestion repository: validated batches, the resume cursor, skipped windows, reading gaps.

A page of readings is written in one transaction together with its quarantined rows and the
cursor that follows it, so a pass interrupted anywhere resumes after the last page stored and
never leaves a page half-written. Intervals the backend could not deliver are kept in
``skipped_windows`` until a later pass fetches them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from oracle.store.chunks import chunks
from oracle.store.engine import session_scope
from oracle.store.quarantine import quarantine
from oracle.store.readings import upsert_readings
from oracle.store.tables import (
    IngestCursor,
    MarketOrder,
    Meter,
    Reading,
    ReadingGap,
    SkippedWindow,
    WeatherForecast,
    WeatherObservation,
    utcnow,
)
from oracle.store.upsert import upsert
from oracle.textsafe import storable


def utc(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


# ---------------------------------------------------------------- cursor


@dataclass(frozen=True)
class Walk:
    """A cursor walk over ``[since, until)`` in progress; ``cursor`` is the next page's."""

    since: datetime
    until: datetime
    cursor: str | None

    def dump(self) -> str:
        return json.dumps({"since": self.since.isoformat(), "until": self.until.isoformat(),
                           "cursor": self.cursor})

    @classmethod
    def load(cls, text: str) -> Walk | None:
        """The walk saved in ``text``; None if it cannot be read (cut short by a downgrade,
        edited by hand): the next pass then walks from the watermark instead of failing."""
        try:
            data = json.loads(text)
            walk = cls(utc(datetime.fromisoformat(data["since"])),
                       utc(datetime.fromisoformat(data["until"])), data["cursor"])
        except (ValueError, TypeError, KeyError, OverflowError):
            return None
        if walk.cursor is not None and not isinstance(walk.cursor, str):
            return None
        return walk


@dataclass(frozen=True)
class CursorState:
    watermark: datetime | None  # everything before this has been walked
    walk: Walk | None  # a walk that was interrupted


def load_cursor(engine: Engine, stream: str) -> CursorState:
    with session_scope(engine) as session:
        row = session.get(IngestCursor, stream)
        if row is None:
            return CursorState(None, None)
        return CursorState(utc(row.watermark) if row.watermark else None,
                           Walk.load(row.cursor) if row.cursor else None)


def _save_cursor(session: Session, stream: str, *, walk: Walk | None,
                 watermark: datetime | None) -> None:
    row = session.get(IngestCursor, stream) or IngestCursor(stream=stream)
    row.cursor = walk.dump() if walk is not None else None
    if watermark is not None and (row.watermark is None or utc(row.watermark) < watermark):
        row.watermark = watermark
    row.updated_at = utcnow()
    session.add(row)


def finish_walk(engine: Engine, stream: str, watermark: datetime | None) -> None:
    """The walk is over: clear the page cursor, advance (never rewind) the watermark (None:
    hold it where it is)."""
    with session_scope(engine) as session:
        _save_cursor(session, stream, walk=None, watermark=watermark)


# ---------------------------------------------------------------- writes


def store_readings_batch(engine: Engine, rows: Sequence[Mapping[str, Any]],
                         quarantined: Sequence[Mapping[str, Any]], *, stream: str = "readings",
                         walk: Walk | None = None, cap: int | None = None,
                         page: str = "") -> int:
    """Upsert valid readings, quarantine the rest (at most ``cap`` in full) and save the
    resume cursor, atomically."""
    with session_scope(engine) as session:
        written = upsert_readings(session, [dict(r) for r in rows])
        quarantine(session, quarantined, cap=cap, page=page)
        if walk is not None:
            _save_cursor(session, stream, walk=walk, watermark=None)
    return written


def store_quarantine(engine: Engine, rows: Sequence[Mapping[str, Any]], *,
                     cap: int | None = None, page: str = "") -> int:
    with session_scope(engine) as session:
        return quarantine(session, rows, cap=cap, page=page)


def upsert_meters(engine: Engine, meters: Sequence[Mapping[str, Any]]) -> int:
    now = utcnow()
    with session_scope(engine) as session:
        return upsert(session, Meter, [{**m, "updated_at": now} for m in meters],
                      key=("meter_id",))


def stored_meters(engine: Engine) -> list[dict[str, Any]]:
    """Every stored meter, as the backend described it last."""
    columns = ("meter_id", "user_id", "node_id", "kind", "pv_kwp", "storage_kwh", "lat", "lon")
    with session_scope(engine) as session:
        return [dict(zip(columns, row, strict=True)) for row in session.execute(
            select(*(getattr(Meter, c) for c in columns)).order_by(col(Meter.meter_id)))]


def order_intervals(engine: Engine, order_ids: Sequence[str]) -> dict[str, datetime]:
    """The interval each of these orders is stored for (orders not stored are left out)."""
    found: dict[str, datetime] = {}
    with session_scope(engine) as session:
        for chunk in chunks(order_ids):
            found.update((oid, utc(ts)) for oid, ts in session.execute(
                select(col(MarketOrder.order_id), col(MarketOrder.interval_start))
                .where(col(MarketOrder.order_id).in_(chunk))))
    return found


def upsert_orders(engine: Engine, orders: Sequence[Mapping[str, Any]],
                  interval_start: datetime) -> int:
    now = utcnow()
    rows = [{**o, "interval_start": interval_start, "ingested_at": now} for o in orders]
    with session_scope(engine) as session:
        return upsert(session, MarketOrder, rows, key=("order_id",))


def upsert_weather(engine: Engine, hours: Sequence[Mapping[str, Any]],
                   issued_at: datetime | None = None) -> int:
    """Store fetched weather hours: those that had ended by ``issued_at`` (all of them when it is
    None) as observations, keyed on (location, ts); the later ones as the forecast issue made at
    ``issued_at``, keyed on (location, issued_at, ts), next to every earlier issue. Fetching
    the same issue again changes nothing. Returns the number of hours stored."""
    now = utcnow()
    observed = [{**h, "ingested_at": now} for h in hours
                if issued_at is None or h["ts"] <= issued_at]
    forecast = [{**h, "issued_at": issued_at, "ingested_at": now} for h in hours
                if issued_at is not None and h["ts"] > issued_at]
    with session_scope(engine) as session:
        return (upsert(session, WeatherObservation, observed, key=("location", "ts"))
                + upsert(session, WeatherForecast, forecast, key=("location", "issued_at", "ts")))


# ---------------------------------------------------------------- gaps


@dataclass(frozen=True)
class Gap:
    """``intervals`` missing intervals of a meter from ``start`` up to (excluding) ``end``."""

    meter_id: str
    start: datetime
    end: datetime
    intervals: int


def _runs(meter_id: str, grid: list[datetime], present: set[datetime],
          step: timedelta) -> list[Gap]:
    gaps, run_start, count = [], None, 0
    for ts in grid:
        if ts in present:
            if run_start is not None:
                gaps.append(Gap(meter_id, run_start, run_start + count * step, count))
                run_start, count = None, 0
        else:
            run_start = ts if run_start is None else run_start
            count += 1
    if run_start is not None:
        gaps.append(Gap(meter_id, run_start, run_start + count * step, count))
    return gaps


def _grid(start: datetime, until: datetime, step: timedelta) -> list[datetime]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = epoch + -((epoch - start) // step) * step  # first grid point >= start
    return [first + i * step for i in range(max(0, -((first - until) // step)))]


def find_gaps(session: Session, meter_ids: Sequence[str], since: datetime, until: datetime,
              interval_s: int = 3600) -> list[Gap]:
    """Missing intervals in ``[since, until)`` for each meter, from its first reading on.

    One count per meter over the window tells which meters can have gaps; only theirs are
    read, a chunk of meters per statement."""
    step = timedelta(seconds=interval_s)
    full_grid = _grid(since, until, step)
    reading = Reading.__table__  # type: ignore[attr-defined]
    counts = dict(session.execute(
        select(reading.c.meter_id, func.count())
        .where(reading.c.ts >= since, reading.c.ts < until)
        .group_by(reading.c.meter_id)).all())
    suspects = [m for m in meter_ids if counts.get(m, 0) < len(full_grid)]
    gaps: list[Gap] = []
    for chunk in chunks(suspects):
        first_ever = {m: utc(ts) for m, ts in session.execute(
            select(reading.c.meter_id, func.min(reading.c.ts))
            .where(reading.c.meter_id.in_(chunk)).group_by(reading.c.meter_id))}
        present: dict[str, set[datetime]] = {}
        read = [m for m in chunk if counts.get(m, 0) > 0]
        if read:
            for meter_id, ts in session.execute(
                    select(reading.c.meter_id, reading.c.ts)
                    .where(reading.c.meter_id.in_(read), reading.c.ts >= since,
                           reading.c.ts < until)):
                present.setdefault(meter_id, set()).add(utc(ts))
        for meter_id in chunk:
            start = first_ever.get(meter_id, since)
            grid = [ts for ts in full_grid if ts >= start]
            gaps.extend(_runs(meter_id, grid, present.get(meter_id, set()), step))
    return gaps


def record_gaps(engine: Engine, meter_ids: Sequence[str], since: datetime, until: datetime,
                interval_s: int = 3600) -> list[Gap]:
    """Re-detect gaps over ``[since, until)`` and replace the recorded ones there.

    Recorded gaps that overlap the window are deleted and the window widened to cover them,
    so a gap filled by late data disappears and one crossing the window edge stays whole.
    """
    table = ReadingGap.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        overlapping = (table.c.gap_start < until) & (table.c.gap_end > since)
        earliest = [utc(first) for chunk in chunks(meter_ids)
                    if (first := session.execute(select(func.min(table.c.gap_start)).where(
                        overlapping, table.c.meter_id.in_(chunk))).scalar_one()) is not None]
        start = min([since, *earliest])
        for chunk in chunks(meter_ids):
            session.execute(delete(table).where(overlapping, table.c.meter_id.in_(chunk)))
        gaps = find_gaps(session, meter_ids, start, until, interval_s)
        now = utcnow()
        if gaps:
            session.execute(insert(table), [
                {"meter_id": g.meter_id, "gap_start": g.start, "gap_end": g.end,
                 "intervals": g.intervals, "detected_at": now} for g in gaps])
    return gaps


# ---------------------------------------------------------------- skipped windows


@dataclass(frozen=True)
class Skipped:
    """One interval the backend could not deliver, how often it was tried, and why."""

    start: datetime
    end: datetime
    attempts: int
    error: str


def _intervals(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    edges = [start, *(t for t in _grid(start, end, step) if t > start), end]
    return list(pairwise(edges))


def record_skipped(engine: Engine, stream: str, since: datetime, until: datetime,
                   failures: Sequence[tuple[datetime, datetime, str]],
                   interval_s: int = 3600) -> list[Skipped]:
    """Make ``skipped_windows`` in ``[since, until)`` what this walk found: intervals that
    arrived are deleted; each failing interval is kept once, its attempts counted."""
    table = SkippedWindow.__table__  # type: ignore[attr-defined]
    step = timedelta(seconds=interval_s)
    now = utcnow()
    inside = (table.c.stream == stream) & (table.c.window_start >= since) & \
        (table.c.window_start < until)
    with session_scope(engine) as session:
        earlier = {utc(r.window_start): r for r in session.execute(
            select(table.c.window_start, table.c.attempts, table.c.first_failed_at)
            .where(inside))}
        session.execute(delete(table).where(inside))
        skipped: dict[datetime, Skipped] = {}
        rows = []
        for start, end, reason in failures:
            error = storable(reason, 1000)
            for a, b in _intervals(start, end, step):
                if a in skipped:
                    continue
                before = earlier.get(a)
                skipped[a] = Skipped(a, b, (before.attempts if before else 0) + 1, error)
                rows.append({"stream": stream, "window_start": a, "window_end": b,
                             "attempts": skipped[a].attempts, "error": error,
                             "first_failed_at": before.first_failed_at if before else now,
                             "last_failed_at": now})
        if rows:
            session.execute(insert(table), rows)
    return sorted(skipped.values(), key=lambda s: s.start)


def skipped_windows(engine: Engine, stream: str, *, since: datetime | None = None,
                    before: datetime | None = None, limit: int = 1000) -> list[Skipped]:
    """Recorded skipped intervals of ``stream`` starting in ``[since, before)``, oldest first."""
    table = SkippedWindow.__table__  # type: ignore[attr-defined]
    query = select(table).where(table.c.stream == stream)
    if since is not None:
        query = query.where(table.c.window_start >= since)
    if before is not None:
        query = query.where(table.c.window_start < before)
    with session_scope(engine) as session:
        return [Skipped(utc(r.window_start), utc(r.window_end), r.attempts, r.error)
                for r in session.execute(query.order_by(table.c.window_start).limit(limit))]

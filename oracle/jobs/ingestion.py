"""One ingestion pass: backend and weather clients into the store (the ingest stage of ``oracle.jobs``).

Meters first (their ratings drive the plausibility rules; an empty or implausible list falls
back to the stored meters), then readings from the stored cursor (see ``ingestion_walk``), then
the intervals earlier passes could not get, gap detection over the window, the next interval's
orders and the weather around the meters.

A bad row is quarantined and the rest of its page stored. A page the backend cannot deliver is
retried, then skipped for this pass: the readings watermark stays before it for
``backend.skip_after_passes`` passes, then moves on, the interval staying in ``skipped_windows``
until a later pass fetches it. Every skip, cursor reset and fallback is audited; none stops
the pass. Weather is optional input: an outage is reported, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from oracle.errors import SourceDataInvalid, SourceUnavailable
from oracle.jobs.ingestion_walk import STREAM, Failure, Walker, floor_to
from oracle.jobs.shared import HISTORY
from oracle.readiness import Readiness
from oracle.sources.client import BackendClient
from oracle.sources.schemas import MeterIn, Rejected
from oracle.sources.validation import PlausibilityRules, check_meters, check_orders, known_meters
from oracle.sources.weather import WeatherClient, weather_point
from oracle.store import ingestion as repo
from oracle.store.audit import AuditLog
from oracle.telemetry import Metrics
from oracle.textsafe import printable

log = logging.getLogger(__name__)
REFETCH_INTERVALS = 168  # skipped intervals behind the window re-fetched per pass, oldest first

__all__ = ["STREAM", "IngestParts", "IngestReport", "floor_to", "ingest", "ingest_once"]


@dataclass
class IngestReport:
    """What one pass did, and what it could not do."""

    since: datetime
    until: datetime
    meters: int = 0
    pages: int = 0
    readings: int = 0
    quarantined: int = 0
    gaps: list[repo.Gap] = field(default_factory=list)
    orders: int = 0
    weather_hours: int = 0
    skipped: list[repo.Skipped] = field(default_factory=list)  # readings intervals not delivered
    recovered: int = 0  # intervals skipped by an earlier pass and fetched in this one
    faults: list[str] = field(default_factory=list)  # pages skipped (readings, orders, meters)
    notes: list[str] = field(default_factory=list)  # fallbacks that kept the pass going
    weather_error: str | None = None

    @property
    def missing_intervals(self) -> int:
        return sum(g.intervals for g in self.gaps)

    def problem(self) -> SourceDataInvalid | None:
        """One error for everything this pass had to skip, or None."""
        if not self.faults:
            return None
        return SourceDataInvalid("; ".join(self.faults), field="(page)", value=len(self.faults))


def _window(state: repo.CursorState, since: datetime | None, until: datetime | None,
            now: datetime, rules: PlausibilityRules, lookback: timedelta
            ) -> tuple[datetime, datetime, str | None]:
    """Resume an interrupted walk, else walk from the watermark (minus an overlap for late
    data) or ``lookback`` ago up to the last ended interval."""
    if since is None and until is None and state.walk is not None:
        return state.walk.since, state.walk.until, state.walk.cursor
    step = timedelta(seconds=rules.interval_s)
    until = until or floor_to(now, rules.interval_s)
    if since is None:
        since = state.watermark - 2 * step if state.watermark else until - lookback
    return since, until, None


def _audit(engine: Engine, kind: str, payload: dict[str, Any], ref: str) -> None:
    AuditLog(engine).append(kind, payload, ref=ref)


def _rows(*rejected: Sequence[Rejected]) -> list[dict[str, Any]]:
    return [r.as_row() for group in rejected for r in group]


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


# ---------------------------------------------------------------- meters and the grid


def _grid_nodes(client: BackendClient, report: IngestReport) -> set[str] | None:
    """The grid's node ids, to check meters and orders against (None: not checked)."""
    try:
        return {n.node_id for n in client.grid().nodes}
    except (SourceDataInvalid, SourceUnavailable) as err:
        report.notes.append(f"meters and orders not checked against the grid's nodes: {err}")
        return None


def _meters(client: BackendClient, engine: Engine, report: IngestReport
            ) -> tuple[dict[str, MeterIn], set[str] | None]:
    """The meters to check readings and orders against (the valid ones are stored), and the
    grid's nodes (None: unknown)."""
    cap = client.settings.quarantine_per_page
    nodes: set[str] | None = None
    try:
        batch = client.meters()  # SourceUnavailable here: the backend is down, retry later
    except SourceDataInvalid as err:
        fetched: list[MeterIn] = []
        broken: str | None = str(err)
    else:
        broken = None
        nodes = _grid_nodes(client, report)
        checked = check_meters(batch.valid, nodes)
        repo.upsert_meters(engine, [m.model_dump() for m in checked.valid])
        report.quarantined += repo.store_quarantine(
            engine, _rows(batch.rejected, checked.rejected), cap=cap, page="meters")
        fetched = checked.valid
    stored = [MeterIn.model_validate(m) for m in repo.stored_meters(engine)]
    meters, why = known_meters(fetched, stored)
    if broken is not None and not stored:
        report.faults.append(f"meters: {broken}; no meters are stored to check readings "
                             "against: readings not fetched")
        _audit(engine, "ingest.skipped", {"source": "meters", "error": printable(broken, 300)},
               ref="meters")
        return {}, nodes
    if broken is not None:
        why = f"{broken}; checking readings against the {len(stored)} stored meters"
    if why is not None:
        report.notes.append(f"meters: {why}")
        _audit(engine, "ingest.meters_fallback", {"reason": why, "stored": len(stored),
                                                  "listed": len(fetched)}, ref="meters")
    report.meters = len(meters)
    return meters, nodes


# ---------------------------------------------------------------- readings


def _describe(skipped: Sequence[repo.Skipped]) -> str:
    first, last = skipped[0], skipped[-1]
    what = (f"interval [{_stamp(first.start)}, {_stamp(first.end)})" if len(skipped) == 1 else
            f"{len(skipped)} intervals in [{_stamp(first.start)}, {_stamp(last.end)})")
    return (f"readings: {what} not delivered (tried in {first.attempts} pass(es)): "
            f"{printable(first.error, 200)}; kept in skipped_windows and fetched again on the "
            "next pass")


def _walk_window(walker: Walker, report: IngestReport, cursor: str | None) -> list[Failure]:
    """The pass's own window: the cursor while it works, else window by window."""
    try:
        walker.cursor_walk(report.since, report.until, cursor)
        return []
    except SourceUnavailable as err:
        if not walker.backend_answers():
            raise  # an outage: the walk resumes from its saved cursor on a later pass
        fault = str(err)  # the message only: the error's traceback holds the refused body
    except SourceDataInvalid as err:
        fault = str(err)
    reason = (f"the backend's cursor failed ({fault}); walking [{_stamp(report.since)}, "
              f"{_stamp(report.until)}) window by window from the last good time")
    report.notes.append(f"readings: {printable(reason, 300)}")
    repo.finish_walk(walker.engine, STREAM, None)  # drop the cursor, hold the watermark
    _audit(walker.engine, "ingest.cursor_reset",
           {"since": report.since, "until": report.until, "page": walker.pages,
            "cursor": None if cursor is None else printable(cursor, 80),
            "error": printable(fault, 300)}, ref=STREAM)
    return walker.window_walk(report.since, report.until)


def _refetch_skipped(walker: Walker, report: IngestReport) -> list[repo.Skipped]:
    """Intervals earlier passes could not get, behind this pass's window: try them again."""
    pending = repo.skipped_windows(walker.engine, STREAM, before=report.since,
                                   limit=REFETCH_INTERVALS)
    runs: list[list[repo.Skipped]] = []
    for item in pending:
        if runs and runs[-1][-1].end == item.start:
            runs[-1].append(item)
        else:
            runs.append([item])
    still: list[repo.Skipped] = []
    for run in runs:
        start, end = run[0].start, run[-1].end
        still += _record(walker, report, start, end, walker.window_walk(start, end))
    return still


def _record(walker: Walker, report: IngestReport, start: datetime, end: datetime,
            failures: Sequence[Failure]) -> list[repo.Skipped]:
    """Record what ``[start, end)`` still misses; audit the intervals that arrived at last."""
    engine = walker.engine
    before = len(repo.skipped_windows(engine, STREAM, since=start, before=end))
    left = repo.record_skipped(engine, STREAM, start, end, failures, walker.rules.interval_s)
    arrived = before - len([s for s in left if s.attempts > 1])
    if arrived > 0:
        report.recovered += arrived
        _audit(engine, "ingest.recovered", {"since": start, "until": end, "intervals": arrived},
               ref=STREAM)
    return left


def _ingest_readings(client: BackendClient, engine: Engine, meters: dict[str, MeterIn],
                     report: IngestReport, cursor: str | None, now: datetime,
                     rules: PlausibilityRules) -> datetime | None:
    """Walk the window and re-fetch what earlier passes missed; the new watermark."""
    walker = Walker(client, engine, meters, rules, now, cap=client.settings.quarantine_per_page)
    try:
        failures = _walk_window(walker, report, cursor)
        skipped = _record(walker, report, report.since, report.until, failures)
        older = _refetch_skipped(walker, report)
    finally:
        report.readings, report.pages = walker.readings, walker.pages
        report.quarantined += walker.quarantined
    report.skipped = [*older, *skipped]
    held = [s.start for s in skipped if s.attempts < client.settings.skip_after_passes]
    if report.skipped:
        report.faults.append(_describe(report.skipped))
        log.warning("ingest: %s", report.faults[-1])
        _audit(engine, "ingest.skipped", {
            "source": "readings", "held_at": min(held) if held else None,
            "windows": [[s.start, s.end, s.attempts] for s in report.skipped[:24]],
            "error": printable(report.skipped[0].error, 300)}, ref=STREAM)
    return min(held) if held else report.until


# ---------------------------------------------------------------- orders and weather


def _ingest_orders(client: BackendClient, engine: Engine, meters: dict[str, MeterIn],
                   nodes: set[str] | None, report: IngestReport) -> None:
    """The orders for the interval that starts at the end of the window."""
    try:
        batch = client.orders(report.until)
    except SourceDataInvalid as err:
        report.faults.append(f"orders for {_stamp(report.until)} skipped: {err}")
        log.warning("ingest: %s", report.faults[-1])
        _audit(engine, "ingest.skipped", {"source": "orders", "interval_start": report.until,
                                          "error": printable(str(err), 300)}, ref="orders")
        return
    stored = repo.order_intervals(engine, [o.order_id for o in batch.valid])
    checked = check_orders(batch.valid, meters, nodes,
                           interval_start=report.until, stored=stored)
    repo.upsert_orders(engine, [o.model_dump() for o in checked.valid], report.until)
    report.quarantined += repo.store_quarantine(
        engine, _rows(batch.rejected, checked.rejected),
        cap=client.settings.quarantine_per_page, page=f"orders {_stamp(report.until)}")
    report.orders = len(checked.valid)


def ingest_weather(weather: WeatherClient, engine: Engine, meters: Sequence[MeterIn],
                   since: datetime, until: datetime, forecast_h: int) -> tuple[int, str | None]:
    """Hourly weather for each distinct 0.1 degree point of the meters, past and forecast;
    the hours stored and the first point's error (every point is tried)."""
    points = sorted({weather_point(m.lat, m.lon) for m in meters
                     if m.lat is not None and m.lon is not None})
    stored, error = 0, None
    for lat, lon in points:
        try:
            hours = weather.hourly(lat, lon, since, until + timedelta(hours=forecast_h))
        except (SourceUnavailable, SourceDataInvalid) as err:
            error = error or f"{lat:.1f},{lon:.1f}: {err}"
            continue
        stored += repo.upsert_weather(engine, [h.as_row() for h in hours], issued_at=until)
    return stored, error


def ingest_once(client: BackendClient, weather: WeatherClient | None, engine: Engine, *,
                since: datetime | None = None, until: datetime | None = None,
                now: datetime | None = None, rules: PlausibilityRules | None = None,
                lookback: timedelta = timedelta(days=7), forecast_h: int = 48) -> IngestReport:
    """One pass; idempotent: running it again for the same window changes nothing.

    Raises only when the backend is down (``SourceUnavailable``) or refuses the token
    (``ConfigError``); everything else it had to skip is in the report (``report.problem()``).
    """
    rules = rules or PlausibilityRules()
    now = now or datetime.now(UTC)
    since, until, cursor = _window(repo.load_cursor(engine, STREAM), since, until, now, rules,
                                   lookback)
    report = IngestReport(since, until)
    meters, nodes = _meters(client, engine, report)
    if meters:
        watermark = _ingest_readings(client, engine, meters, report, cursor, now, rules)
        report.gaps = repo.record_gaps(engine, sorted(meters), since, until, rules.interval_s)
        repo.finish_walk(engine, STREAM, watermark)
    elif not report.faults:
        report.notes.append("no meters are known yet (the backend lists none and none are "
                            "stored): readings and orders not fetched")
    if meters:  # without meters every order would be quarantined as an unknown meter's
        _ingest_orders(client, engine, meters, nodes, report)
    if weather is not None:
        report.weather_hours, report.weather_error = ingest_weather(
            weather, engine, list(meters.values()), since, until, forecast_h)
        if report.weather_error is not None:
            log.warning("ingest: weather unavailable: %s", report.weather_error)
            _audit(engine, "ingest.weather_unavailable",
                   {"error": printable(report.weather_error, 300), "hours": report.weather_hours},
                   ref="weather")
    log.info("ingested %d readings (%d quarantined, %d missing intervals) for [%s, %s)",
             report.readings, report.quarantined, report.missing_intervals, since, until)
    return report


@dataclass(frozen=True)
class IngestParts:
    """What the ingest stage uses: the backend and weather clients (None: no weather), the store,
    the plausibility rules, the clock, and the metrics and readiness it reports to."""

    backend: BackendClient
    weather: WeatherClient | None
    engine: Engine
    plausibility: PlausibilityRules
    clock: Callable[[], datetime]
    metrics: Metrics
    readiness: Readiness


def ingest(parts: IngestParts, start: datetime) -> dict[str, Any]:
    """The ingest stage: readings up to T, the orders for T and the weather around the meters."""
    report = ingest_once(parts.backend, parts.weather, parts.engine, until=start,
                         now=parts.clock(), rules=parts.plausibility, lookback=HISTORY)
    parts.metrics.quarantined.labels(source="ingest").inc(report.quarantined)
    out: dict[str, Any] = {"readings": report.readings, "quarantined": report.quarantined,
                           "orders": report.orders, "missing_intervals": report.missing_intervals,
                           "skipped_intervals": len(report.skipped)}
    faults = {"ingest": "; ".join(report.faults) if report.faults else None,
              "weather": None if report.weather_error is None
              else f"weather unavailable: {report.weather_error}"}
    for name, reason in faults.items():  # the tick goes on without them; readiness says so
        was = name in parts.readiness.degraded
        if reason is None and was:
            log.info("%s recovered: no longer degraded", name)
        elif reason is not None and not was:
            log.warning("degraded: running without %s (%s); logged again on recovery", name,
                        reason[:300])
        if reason is None:
            parts.readiness.degraded.pop(name, None)
        else:
            parts.readiness.degraded[name] = reason[:300]
            parts.metrics.alerts.labels(kind=f"{name}_degraded").inc()
    if any(faults.values()):
        out["degraded"] = "; ".join(r for r in faults.values() if r)[:500]
    return out


"""One ingestion pass: backend and weather clients into the store (to move into ``jobs.py``).

Meters first (their ratings drive the plausibility rules), then readings page by page from the
stored cursor, then gap detection over the window, then the next interval's orders and the
weather around the meters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from oracle.sources.client import BackendClient
from oracle.sources.schemas import MeterIn
from oracle.sources.validation import DuplicateTracker, PlausibilityRules, check_readings
from oracle.sources.weather import WeatherClient
from oracle.store import ingestion as repo

log = logging.getLogger(__name__)
STREAM = "readings"


@dataclass
class IngestReport:
    """What one pass did."""

    since: datetime
    until: datetime
    meters: int = 0
    pages: int = 0
    readings: int = 0
    quarantined: int = 0
    gaps: list[repo.Gap] = field(default_factory=list)
    orders: int = 0
    weather_hours: int = 0

    @property
    def missing_intervals(self) -> int:
        return sum(g.intervals for g in self.gaps)


def floor_to(ts: datetime, interval_s: int) -> datetime:
    step = timedelta(seconds=interval_s)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (ts - epoch) // step * step


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


def ingest_readings(client: BackendClient, engine: Engine, meters: dict[str, MeterIn],
                    report: IngestReport, cursor: str | None, now: datetime,
                    rules: PlausibilityRules) -> None:
    """Walk the readings cursor; each page is stored atomically with its cursor."""
    seen = DuplicateTracker()
    window = (report.since, report.until)
    for page in client.readings_pages(report.since, report.until, cursor):
        checked = check_readings(page.batch.valid, meters, rules=rules, now=now, window=window,
                                 seen=seen)
        rejected = [r.as_row() for r in (*page.batch.rejected, *checked.rejected)]
        walk = repo.Walk(report.since, report.until, page.next_cursor)
        report.readings += repo.store_readings_batch(
            engine, [r.model_dump() for r in checked.valid], rejected, stream=STREAM, walk=walk)
        report.quarantined += len(rejected)
        report.pages += 1


def ingest_weather(weather: WeatherClient, engine: Engine, meters: Sequence[MeterIn],
                   since: datetime, until: datetime, forecast_h: int) -> int:
    """Hourly weather for each distinct 0.1 degree point of the meters: past and forecast."""
    points = sorted({(round(m.lat, 1), round(m.lon, 1)) for m in meters
                     if m.lat is not None and m.lon is not None})
    stored = 0
    for lat, lon in points:
        hours = weather.hourly(lat, lon, since, until + timedelta(hours=forecast_h))
        stored += repo.upsert_weather(engine, [h.as_row() for h in hours], issued_at=until)
    return stored


def ingest_once(client: BackendClient, weather: WeatherClient | None, engine: Engine, *,
                since: datetime | None = None, until: datetime | None = None,
                now: datetime | None = None, rules: PlausibilityRules | None = None,
                lookback: timedelta = timedelta(days=7), forecast_h: int = 48) -> IngestReport:
    """One pass; idempotent: running it again for the same window changes nothing."""
    rules = rules or PlausibilityRules()
    now = now or datetime.now(UTC)
    meter_batch = client.meters()
    repo.upsert_meters(engine, [m.model_dump() for m in meter_batch.valid])
    repo.store_quarantine(engine, [r.as_row() for r in meter_batch.rejected])
    meters = {m.meter_id: m for m in meter_batch.valid}
    since, until, cursor = _window(repo.load_cursor(engine, STREAM), since, until, now, rules,
                                   lookback)
    report = IngestReport(since, until, meters=len(meters),
                          quarantined=len(meter_batch.rejected))
    ingest_readings(client, engine, meters, report, cursor, now, rules)
    report.gaps = repo.record_gaps(engine, sorted(meters), since, until, rules.interval_s)
    repo.finish_walk(engine, STREAM, until)
    order_batch = client.orders(until)
    repo.upsert_orders(engine, [o.model_dump() for o in order_batch.valid], until)
    repo.store_quarantine(engine, [r.as_row() for r in order_batch.rejected])
    report.orders, report.quarantined = (len(order_batch.valid),
                                         report.quarantined + len(order_batch.rejected))
    if weather is not None:
        report.weather_hours = ingest_weather(weather, engine, meter_batch.valid, since, until,
                                              forecast_h)
    log.info("ingested %d readings (%d quarantined, %d missing intervals) for [%s, %s)",
             report.readings, report.quarantined, report.missing_intervals, since, until)
    return report

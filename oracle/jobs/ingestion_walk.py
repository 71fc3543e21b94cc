"""The readings walk of one ingestion pass: the backend's cursor while it behaves, else windows.

A page the backend cannot deliver (broken JSON, envelope or encoding after its retries, a
refused or looping cursor, a 5xx while the backend otherwise answers) ends the cursor walk; the
window is then walked again window by window, and a failing window is halved down to the
interval that fails, so one poisoned page costs its own interval and nothing else. What still
fails is returned; the pass records it in ``skipped_windows``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from sqlalchemy.engine import Engine

from oracle.errors import SourceDataInvalid, SourceUnavailable
from oracle.sources.client import BackendClient, ReadingsPage
from oracle.sources.schemas import MeterIn
from oracle.sources.validation import DuplicateTracker, PlausibilityRules, check_readings
from oracle.store import ingestion as repo

STREAM = "readings"
FINE = 8  # windows of up to this many intervals are always halved down to single intervals
Failure = tuple[datetime, datetime, str]  # [start, end) and why it could not be fetched


def floor_to(ts: datetime, interval_s: int) -> datetime:
    step = timedelta(seconds=interval_s)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (ts - epoch) // step * step


def edges(start: datetime, end: datetime, interval_s: int, every: int = 1) -> list[datetime]:
    """``start``, every ``every``-th interval boundary strictly inside, and ``end``."""
    step = timedelta(seconds=interval_s) * every
    inner, t = [], floor_to(start, interval_s) + step
    while t < end:
        inner.append(t)
        t += step
    return [start, *inner, end]


@dataclass
class Walker:
    """Walks readings into the store for one pass and counts what it stored."""

    client: BackendClient
    engine: Engine
    meters: Mapping[str, MeterIn]
    rules: PlausibilityRules
    now: datetime
    cap: int
    seen: DuplicateTracker = field(default_factory=DuplicateTracker)
    readings: int = 0
    quarantined: int = 0
    pages: int = 0

    def store(self, page: ReadingsPage, since: datetime, until: datetime,
              walk: repo.Walk | None) -> None:
        """Check one page and store it atomically (with the cursor that follows it)."""
        checked = check_readings(page.batch.valid, self.meters, rules=self.rules, now=self.now,
                                 window=(since, until), seen=self.seen)
        rejected = [r.as_row() for r in (*page.batch.rejected, *checked.rejected)]
        self.readings += repo.store_readings_batch(
            self.engine, [r.model_dump() for r in checked.valid], rejected, stream=STREAM,
            walk=walk, cap=self.cap, page=f"[{since.isoformat()}, {until.isoformat()}) "
                                          f"#{page.number}")
        self.quarantined += len(rejected)
        self.pages += 1

    def cursor_walk(self, since: datetime, until: datetime, cursor: str | None) -> None:
        """Follow the backend's cursor over ``[since, until)``, saving it after every page."""
        for page in self.client.readings_pages(since, until, cursor):
            self.store(page, since, until, repo.Walk(since, until, page.next_cursor))

    def backend_answers(self) -> bool:
        """Whether the backend is up (it lists its meters), when a readings request failed as
        if it were down: then the fault is that request's, not an outage."""
        try:
            self.client.meters()
        except SourceUnavailable:
            return False
        except SourceDataInvalid:
            return True
        return True

    def fetch(self, start: datetime, end: datetime) -> str | None:
        """Walk one window on a fresh cursor; why it stopped, or None. (The message, not the
        error: an error's traceback would keep the refused body alive.)"""
        try:
            for page in self.client.readings_pages(start, end):
                self.store(page, start, end, None)
        except SourceUnavailable as err:
            if not self.backend_answers():
                raise  # an outage: the pass stops and is retried later
            return str(err)
        except SourceDataInvalid as err:
            return str(err)
        return None

    def window_walk(self, since: datetime, until: datetime) -> list[Failure]:
        """Walk ``[since, until)`` in windows of about one page; what could not be fetched.
        Once two windows in a row have failed whole before any page arrived, every readings
        request is failing: the rest of the span is given up as one failure, not tried."""
        per_page = max(1, self.client.settings.page_size // max(1, len(self.meters)))
        bounds = edges(since, until, self.rules.interval_s, per_page)
        failures: list[Failure] = []
        pages, whole = self.pages, 0
        for start, end in pairwise(bounds):
            if whole >= 2 and self.pages == pages:
                failures.append((start, until, failures[-1][2]))
                break
            err = self.fetch(start, end)
            if err is not None:
                failed = self.isolate(start, end, err)
                lost = sum(((b - a) for a, b, _ in failed), timedelta())
                whole = whole + 1 if lost == end - start else 0
                failures += failed
        return failures

    def isolate(self, start: datetime, end: datetime, err: str) -> list[Failure]:
        """Halve a failing window down to the intervals that fail. When both halves of a window
        wider than ``FINE`` intervals fail, the backend is broken wider than one page: that
        window is kept whole rather than asking for every interval in it."""
        inner = edges(start, end, self.rules.interval_s)[1:-1]
        if not inner:
            return [(start, end, err)]
        mid = inner[len(inner) // 2]
        halves = [(a, b, self.fetch(a, b)) for a, b in ((start, mid), (mid, end))]
        failed = [(a, b, e) for a, b, e in halves if e is not None]
        if len(failed) == 2 and len(inner) >= FINE:
            return [(start, end, failed[0][2])]
        return [f for a, b, e in failed for f in self.isolate(a, b, e)]

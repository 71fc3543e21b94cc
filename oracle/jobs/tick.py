"""The tick: every stage for interval T in order, and the catch-up over the due intervals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from oracle.errors import DataError, OracleError, RetryableError
from oracle.jobs.detection import detect
from oracle.jobs.dispatch import optimize
from oracle.jobs.forecasting import forecast, forecast_error
from oracle.jobs.ingestion import ingest
from oracle.jobs.pricing import price
from oracle.jobs.publishing import push
from oracle.jobs.shared import TICK_STREAM, TickOutcome
from oracle.jobs.submission import submit
from oracle.store import ingestion as ingest_repo
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope

if TYPE_CHECKING:
    from oracle.app import Application


log = logging.getLogger("oracle.jobs")


STAGES: tuple[tuple[str, Callable[[Application, datetime], dict[str, Any]]], ...] = (
    ("forecast", forecast), ("price", price), ("detect", detect), ("optimize", optimize),
)


def run_tick(app: Application, start: datetime) -> TickOutcome:
    """All stages for interval T, in order; raises RetryableError when T must be retried."""
    outcome = TickOutcome(start)
    _timed(outcome, "ingest", lambda: ingest(app, start))  # RetryableError: retry T later
    for name, stage in STAGES:
        try:
            _timed(outcome, name, lambda stage=stage: stage(app, start))  # type: ignore[misc]
        except DataError as err:
            _skip(app, start, name, err, outcome)
    for name, fn in (("submit", lambda: submit(app)), ("push", lambda: push(app, start))):
        try:
            _timed(outcome, name, fn)
        except RetryableError as err:  # reports stay queued; results are pushed next time
            outcome.stages[name] = f"deferred: {err}"
    outcome.figures["forecast_mape"] = forecast_error(app, start)
    return outcome


def _timed(outcome: TickOutcome, name: str, fn: Callable[[], dict[str, Any]]) -> None:
    t0 = time.perf_counter()
    try:
        outcome.figures[name] = fn()
        degraded = outcome.figures[name].get("degraded") if outcome.figures[name] else None
        outcome.stages[name] = f"degraded: {degraded}" if degraded else "ok"
    finally:
        outcome.seconds[name] = time.perf_counter() - t0


def _skip(app: Application, start: datetime, stage: str, err: OracleError,
          outcome: TickOutcome) -> None:
    outcome.stages[stage] = f"skipped: {type(err).__name__}: {err}"
    app.metrics.model_errors.labels(model=stage).inc()
    log.warning("tick %s: %s skipped: %s", start, stage, err)
    with session_scope(app.engine) as session:
        append_entry(session, "stage.skipped", {"interval_start": start, "stage": stage,
                                                "error": f"{type(err).__name__}: {err}"},
                     ref=f"{stage}:{start:%Y-%m-%dT%H:%MZ}")


def due_intervals(app: Application, now: datetime) -> Iterator[datetime]:
    """Intervals not yet ticked, oldest first, up to the last boundary before ``now``."""
    step = timedelta(seconds=app.settings.scheduler.interval_s)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    latest = epoch + (now - epoch) // step * step
    state = ingest_repo.load_cursor(app.engine, TICK_STREAM)
    nxt = state.watermark + step if state.watermark is not None else latest
    while nxt <= latest:
        yield nxt
        nxt += step


def catch_up(app: Application, *, on_tick: Callable[[TickOutcome], None] | None = None,
             max_ticks: int | None = None) -> list[TickOutcome]:
    """Tick every due interval in order, advancing the watermark after each completed one."""
    done: list[TickOutcome] = []
    if ingest_repo.load_cursor(app.engine, TICK_STREAM).watermark is None:
        # First run: pin the starting point before ticking, so a crash in the first tick
        # restarts that same interval rather than a later one.
        step = timedelta(seconds=app.settings.scheduler.interval_s)
        first = next(due_intervals(app, app.clock()), None)
        if first is not None:
            ingest_repo.finish_walk(app.engine, TICK_STREAM, first - step)
    for start in due_intervals(app, app.clock()):
        outcome = run_tick(app, start)
        ingest_repo.finish_walk(app.engine, TICK_STREAM, start)
        with session_scope(app.engine) as session:
            append_entry(session, "tick", {"interval_start": start, "stages": outcome.stages},
                         ref=f"tick:{start:%Y-%m-%dT%H:%MZ}")
        app.readiness.tick_done()
        app.metrics.last_tick.set(time.time())
        done.append(outcome)
        if on_tick is not None:
            on_tick(outcome)
        if max_ticks is not None and len(done) >= max_ticks:
            break
    return done

"""The tick: every stage for interval T in order, and the catch-up over the due intervals."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from oracle.errors import DataError, OracleError, RetryableError
from oracle.jobs.detection import DetectParts, detect
from oracle.jobs.dispatch import OptimizeParts, optimize
from oracle.jobs.forecasting import ForecastParts, forecast, forecast_error
from oracle.jobs.ingestion import IngestParts, ingest
from oracle.jobs.pricing import PriceParts, price
from oracle.jobs.publishing import PushParts, push
from oracle.jobs.shared import TICK_STREAM, TickOutcome
from oracle.jobs.submission import SubmitParts, submit
from oracle.readiness import Readiness
from oracle.store import ingestion as ingest_repo
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.telemetry import Metrics

log = logging.getLogger("oracle.jobs")


@dataclass(frozen=True)
class Tick:
    """Each stage's parts (built by ``oracle.app``), and what the tick itself uses: the store
    (cursor, audit), the interval length, the clock, the metrics and the readiness."""

    engine: Engine
    interval_s: int  # scheduler.interval_s
    clock: Callable[[], datetime]
    metrics: Metrics
    readiness: Readiness
    ingest: IngestParts
    forecast: ForecastParts
    price: PriceParts
    detect: DetectParts
    optimize: OptimizeParts
    submit: SubmitParts
    push: PushParts


STAGES: tuple[tuple[str, Callable[[Tick, datetime], dict[str, Any]]], ...] = (
    ("forecast", lambda tick, start: forecast(tick.forecast, start)),
    ("price", lambda tick, start: price(tick.price, start)),
    ("detect", lambda tick, start: detect(tick.detect, start)),
    ("optimize", lambda tick, start: optimize(tick.optimize, start)),
)


def run_tick(tick: Tick, start: datetime) -> TickOutcome:
    """All stages for interval T, in order; raises RetryableError when T must be retried."""
    outcome = TickOutcome(start)
    _timed(outcome, "ingest", lambda: ingest(tick.ingest, start))  # RetryableError: retry T later
    for name, stage in STAGES:
        try:
            _timed(outcome, name, lambda stage=stage: stage(tick, start))  # type: ignore[misc]
        except DataError as err:
            _skip(tick, start, name, err, outcome)
    for name, fn in (("submit", lambda: submit(tick.submit)),
                     ("push", lambda: push(tick.push, start))):
        try:
            _timed(outcome, name, fn)
        except RetryableError as err:  # reports stay queued; results are pushed next time
            outcome.stages[name] = f"deferred: {err}"
    outcome.figures["forecast_mape"] = forecast_error(tick.engine, tick.forecast.zone, start)
    return outcome


def _timed(outcome: TickOutcome, name: str, fn: Callable[[], dict[str, Any]]) -> None:
    t0 = time.perf_counter()
    try:
        outcome.figures[name] = fn()
        degraded = outcome.figures[name].get("degraded") if outcome.figures[name] else None
        outcome.stages[name] = f"degraded: {degraded}" if degraded else "ok"
    finally:
        outcome.seconds[name] = time.perf_counter() - t0


def _skip(tick: Tick, start: datetime, stage: str, err: OracleError,
          outcome: TickOutcome) -> None:
    outcome.stages[stage] = f"skipped: {type(err).__name__}: {err}"
    tick.metrics.model_errors.labels(model=stage).inc()
    log.warning("tick %s: %s skipped: %s", start, stage, err)
    with session_scope(tick.engine) as session:
        append_entry(session, "stage.skipped", {"interval_start": start, "stage": stage,
                                                "error": f"{type(err).__name__}: {err}"},
                     ref=f"{stage}:{start:%Y-%m-%dT%H:%MZ}")


def due_intervals(tick: Tick, now: datetime) -> Iterator[datetime]:
    """Intervals not yet ticked, oldest first, up to the last boundary before ``now``."""
    step = timedelta(seconds=tick.interval_s)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    latest = epoch + (now - epoch) // step * step
    state = ingest_repo.load_cursor(tick.engine, TICK_STREAM)
    nxt = state.watermark + step if state.watermark is not None else latest
    while nxt <= latest:
        yield nxt
        nxt += step


def catch_up(tick: Tick, *, on_tick: Callable[[TickOutcome], None] | None = None,
             max_ticks: int | None = None) -> list[TickOutcome]:
    """Tick every due interval in order, advancing the watermark after each completed one."""
    done: list[TickOutcome] = []
    if ingest_repo.load_cursor(tick.engine, TICK_STREAM).watermark is None:
        # First run: pin the starting point before ticking, so a crash in the first tick
        # restarts that same interval rather than a later one.
        step = timedelta(seconds=tick.interval_s)
        first = next(due_intervals(tick, tick.clock()), None)
        if first is not None:
            ingest_repo.finish_walk(tick.engine, TICK_STREAM, first - step)
    for start in due_intervals(tick, tick.clock()):
        outcome = run_tick(tick, start)
        ingest_repo.finish_walk(tick.engine, TICK_STREAM, start)
        with session_scope(tick.engine) as session:
            append_entry(session, "tick", {"interval_start": start, "stages": outcome.stages},
                         ref=f"tick:{start:%Y-%m-%dT%H:%MZ}")
        tick.readiness.tick_done()
        tick.metrics.last_tick.set(time.time())
        done.append(outcome)
        if on_tick is not None:
            on_tick(outcome)
        if max_ticks is not None and len(done) >= max_ticks:
            break
    return done

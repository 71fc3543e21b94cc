"""The daemon's jobs: the only module that calls sources, models, store and chain together.

A tick is named by its market interval's start ``T`` (a boundary of ``scheduler.interval_s``):
readings up to ``T`` are in, the orders for ``[T, T+1 interval)`` are on the book.

    ingest   readings up to T, orders for T, weather           (sources -> store)
    forecast zone demand and solar for the next 24 h from T   (store -> models -> store)
    price    clear the book for T; publish on deviation or heartbeat (-> outbox)
    detect   anomalies in the last ended interval [T-1, T)     (-> store, outbox)
    optimize dispatch for [T, T+24 h) on the backend's grid    (-> store, outbox)
    submit   the transaction manager: broadcast, confirm, bump (outbox -> chain)
    push     results back to the backend, keyed by report id  (store -> backend)

Every stage is idempotent for its interval: rows are upserted on natural keys, reports have
deterministic ids and the outbox ignores a report it already has. A stage that meets bad data
or a failing model (``DataError``) is skipped and audited; the others go on. A dependency that
is down (``RetryableError``) stops the tick, which is caught up, in order, on a later run.
Weather is optional input and one bad page is skipped (and fetched again later): the tick goes
on, its stages marked ``degraded`` in the outcome, the audit log and ``/readyz``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.errors import ModelError as ModelFailure
from oracle.errors import (
    DataError,
    ModelError,
    OracleError,
    RetryableError,
    RpcUnavailable,
    SourceDataInvalid,
)
from oracle.reporting import (
    ChainCall,
    anomaly_call,
    price_call,
    report_id,
    round_number,
    schedule_call,
    should_publish,
)
from oracle.store import ingestion as ingest_repo
from oracle.store import results
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.readings import totals_frame
from oracle.store.tables import ForecastRow, PriceRound, Report

if TYPE_CHECKING:
    from models.forecasting import Forecaster
    from oracle.app import Application
    from oracle.chain.summary import TickSummary

log = logging.getLogger("oracle.jobs")
TICK_STREAM = "daemon.tick"
FORECAST_HOURS = 24
HISTORY = timedelta(days=28)
DETECTION_HISTORY = timedelta(days=7)


@dataclass
class TickOutcome:
    """What one tick did, stage by stage (the demo prints it; the audit log keeps it)."""

    interval_start: datetime
    stages: dict[str, str] = field(default_factory=dict)  # stage -> ok / skipped: reason
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time


# ---------------------------------------------------------------- helpers


@contextmanager
def _translated(stage: str) -> Iterator[None]:
    """Translate the models' errors where they enter the daemon."""
    try:
        yield
    except InvalidInput as err:
        raise SourceDataInvalid(f"{stage}: {err}", field=err.field, row=err.row,
                                value=err.value) from err
    except ModelFailure as err:
        raise ModelError(f"{stage}: {err}") from err
    except OracleError:
        raise  # ours already says what happens next (retry, skip, refuse)
    except Exception as err:  # a bug inside a model must skip this stage, not all ticks
        log.exception("%s: unexpected %s from the models", stage, type(err).__name__)
        raise ModelError(f"{stage}: {type(err).__name__}: {err}") from err


def _model_errors(stage: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a stage with :func:`_translated`."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            with _translated(stage):
                return fn(*args, **kwargs)
        return run
    return wrap


def _queue(app: Application, rid: str, kind: str, call: ChainCall, interval_start: datetime) -> bool:
    if app.txm is None:
        return False
    return app.txm.queue(rid, kind, call.contract, call.fn_name, call.args, interval_start,
                         call.payload)


def _hourly(frame: pd.DataFrame, column: str, since: datetime, until: datetime) -> pd.Series:
    """Zone total of ``column`` per hour on a regular index (missing hours interpolated)."""
    index = pd.date_range(since, until, freq="h", inclusive="left", tz=UTC)
    if frame.empty:
        return pd.Series(np.nan, index=index, name=column)
    series = frame.groupby("ts")[column].sum().reindex(index)
    return series.interpolate(limit_direction="both")


def _forecaster(app: Application) -> Forecaster:
    """The daemon's forecaster: the configured model, told the market's site when it is set."""
    from models.forecasting import Forecaster  # imported late: keeps `oracle --help` fast
    from models.forecasting.daylight import Site

    settings = app.settings.models
    site = None
    if settings.site_latitude is not None and settings.site_longitude is not None:
        site = Site(settings.site_latitude, settings.site_longitude)  # the index is in UTC
    return Forecaster(model=settings.forecast_model, site=site)


# ---------------------------------------------------------------- stages


def ingest(app: Application, start: datetime) -> dict[str, Any]:
    """Readings up to T, the orders for T and the weather around the meters."""
    from oracle.ingestion_pass import ingest_once

    report = ingest_once(app.backend, app.weather, app.engine, until=start, now=app.clock(),
                         rules=app.plausibility, lookback=HISTORY)
    app.metrics.quarantined.labels(source="ingest").inc(report.quarantined)
    out: dict[str, Any] = {"readings": report.readings, "quarantined": report.quarantined,
                           "orders": report.orders, "missing_intervals": report.missing_intervals,
                           "skipped_intervals": len(report.skipped)}
    faults = {"ingest": "; ".join(report.faults) if report.faults else None,
              "weather": None if report.weather_error is None
              else f"weather unavailable: {report.weather_error}"}
    for name, reason in faults.items():  # the tick goes on without them; readiness says so
        if reason is None:
            app.readiness.degraded.pop(name, None)
        else:
            app.readiness.degraded[name] = reason[:300]
            app.metrics.alerts.labels(kind=f"{name}_degraded").inc()
    if any(faults.values()):
        out["degraded"] = "; ".join(r for r in faults.values() if r)[:500]
    return out


@_model_errors("forecast")
def forecast(app: Application, start: datetime) -> dict[str, Any]:
    """Zone demand and solar production for the next 24 h, with intervals."""
    with session_scope(app.engine) as session:
        frame = totals_frame(session, start - HISTORY, start)
    if frame.empty:
        raise SourceDataInvalid(f"forecast: no readings before {start:%Y-%m-%d %H:%M}",
                                field="readings", value=0)
    out: dict[str, Any] = {}
    with session_scope(app.engine) as session:
        for target, column in (("demand", "consumption_kwh"), ("solar", "production_kwh")):
            y = _hourly(frame, column, start - HISTORY, start).dropna()
            y.index.freq = "h"  # type: ignore[misc]
            model = app.settings.models.forecast_model
            prediction = _forecaster(app).fit(y).predict(FORECAST_HOURS)
            if target == "solar":
                prediction = prediction.clip(lower=0.0)
            results.save_forecast(session, target=target, entity_id=app.settings.pricing.zone,
                                  origin=start, frame=prediction, model=model)
            out[f"{target}_next_kwh"] = float(prediction["mean"].iloc[0])
        weather = app.readiness.degraded.get("weather")
        if weather is not None:  # the solar forecast is made from production history alone
            out["degraded"] = f"{weather}; solar forecast without weather input"
        append_entry(session, "forecast", {"origin": start, **out}, ref=f"forecast:{start:%Y-%m-%dT%H:%MZ}")
    return out


def one_step_errors(app: Application, start: datetime, window: timedelta = timedelta(days=2)
                    ) -> pd.DataFrame:
    """The one-step zone-demand forecasts whose hour has been observed: forecast, actual."""
    with session_scope(app.engine) as session:
        rows = session.exec(_first_steps(start, window)).all()
        frame = totals_frame(session, start - window, start)
    if not rows or frame.empty:
        return pd.DataFrame(columns=["forecast", "actual"])
    actual = frame.set_index("ts")["consumption_kwh"]
    stamps = [pd.Timestamp(r.ts).tz_localize(UTC) if r.ts.tzinfo is None else pd.Timestamp(r.ts)
              for r in rows]
    pairs = pd.DataFrame({"forecast": [r.mean for r in rows]}, index=pd.DatetimeIndex(stamps))
    pairs["actual"] = actual.reindex(pairs.index)
    return pairs.dropna()


def forecast_error(app: Application, start: datetime) -> float | None:
    """MAPE (%) of the one-step zone-demand forecasts observed so far (past two days)."""
    pairs = one_step_errors(app, start)
    pairs = pairs[pairs["actual"] > 0]
    if pairs.empty:
        return None
    return 100 * float(((pairs["forecast"] - pairs["actual"]).abs() / pairs["actual"]).mean())


def _first_steps(start: datetime, window: timedelta) -> Any:
    from sqlmodel import col, select

    return select(ForecastRow).where(col(ForecastRow.target) == "demand",
                                     col(ForecastRow.origin) == col(ForecastRow.ts),
                                     col(ForecastRow.ts) < start,
                                     col(ForecastRow.ts) >= start - window)


def _forward_curve(app: Application, start: datetime) -> list[float]:
    """Forward price curve for the next 24 h: supply-demand-ratio pricing on the forecasts."""
    from models.pricing.strategies import supply_demand_price

    zone, p = app.settings.pricing.zone, app.settings.pricing
    with session_scope(app.engine) as session:
        demand = results.forecast_frame(session, target="demand", entity_id=zone, origin=start)
        solar = results.forecast_frame(session, target="solar", entity_id=zone, origin=start)
    if demand.empty or solar.empty:
        return []
    tariffs = app.tariffs
    return [round(min(p.cap, max(p.floor, supply_demand_price(
        max(s, 0.0), max(d, 1e-9), tariffs["export_price"], tariffs["import_price"]))), 6)
        for d, s in zip(demand["mean"], solar["mean"], strict=False)]


@_model_errors("price")
def price(app: Application, start: datetime) -> dict[str, Any]:
    """Clear the book for T; queue a price report on deviation or heartbeat."""
    from models.pricing import clear_market, split_orders
    from models.pricing.components import price_components

    p = app.settings.pricing
    with session_scope(app.engine) as session:
        orders = results.orders_frame(session, start)
    bids, offers = split_orders(orders) if not orders.empty else (orders, orders)
    clearing = clear_market(bids, offers, rule=p.rule, floor=p.floor, cap=p.cap)
    rid = report_id("price", p.zone, start)
    with session_scope(app.engine) as session:
        last = results.last_published_round(session, p.zone, start)
        decision = should_publish(clearing.price, start, last.price if last else None,
                                  last.interval_start.replace(tzinfo=UTC) if last else None,
                                  deviation_percent=p.deviation_percent, heartbeat_s=p.heartbeat_s)
        components = (price_components(clearing.price, floor=p.floor, cap=p.cap).as_dict()
                      if clearing.price is not None else None)
        results.save_price_round(
            session, zone=p.zone, interval_start=start, rule=p.rule, price=clearing.price,
            volume_kwh=clearing.volume, buyer_surplus=clearing.buyer_surplus,
            seller_surplus=clearing.seller_surplus, components=components,
            matches=clearing.matches.head(500).to_dict("records") if not clearing.matches.empty else [],
            published=decision.publish, publish_reason=decision.reason,
            report_id=rid if decision.publish else None)
        append_entry(session, "price.round", {"interval_start": start, "price": clearing.price,
                                              "volume_kwh": clearing.volume,
                                              "decision": decision.reason}, ref=rid)
    queued = False
    if decision.publish and clearing.price is not None:
        call = price_call(p.zone, round_number(start, app.settings.scheduler.interval_s),
                          clearing.price, _forward_curve(app, start), app.settings.chain.feed_decimals)
        queued = _queue(app, rid, "price", call, start)
    return {"price": clearing.price, "volume_kwh": clearing.volume, "publish": decision.reason,
            "queued": queued}


@_model_errors("detect")
def detect(app: Application, start: datetime) -> dict[str, Any]:
    """Anomalies in the last ended interval, against the past week; one batch report. The
    per-meter work runs in groups of meters through ``app.executor`` (:mod:`oracle.detection`)."""
    from oracle.detection import detect_anomalies, fit_detector, groups_of

    step = timedelta(seconds=app.settings.scheduler.interval_s)
    compute = app.settings.compute
    if not groups_of(app.engine, start - step, start, compute.group_size):
        raise SourceDataInvalid(f"detect: no readings for {start - step:%Y-%m-%d %H:%M}",
                                field="readings", value=0)
    detector = app.anomaly_detector(lambda: fit_detector(
        app.engine, app.executor, start - step - DETECTION_HISTORY, start - step,
        group_size=compute.group_size, max_rows=compute.fit_sample_rows)[0], start)
    rid = report_id("anomaly", app.settings.pricing.zone, start)
    found = detect_anomalies(app.engine, app.executor, detector, start - step, start,
                             interval_start=start, report_id=rid, group_size=compute.group_size)
    with session_scope(app.engine) as session:
        append_entry(session, "anomaly.batch", {"interval_start": start, "count": len(found),
                                                "types": found["type"].value_counts().to_dict()
                                                if not found.empty else {}}, ref=rid)
    call = anomaly_call(round_number(start, app.settings.scheduler.interval_s), found)
    queued = _queue(app, rid, "anomaly", call, start)
    return {"anomalies": len(found), "flagged": call.payload["flagged"], "queued": queued}


def _node_profiles(app: Application, start: datetime, hours: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the zone forecasts over nodes by each node's share of the past week, per hour of day."""
    zone = app.settings.pricing.zone
    with session_scope(app.engine) as session:
        week = totals_frame(session, start - timedelta(days=7), start, by_node=True)
        demand = results.forecast_frame(session, target="demand", entity_id=zone, origin=start)
        solar = results.forecast_frame(session, target="solar", entity_id=zone, origin=start)
    if week.empty or demand.empty:
        raise SourceDataInvalid("optimize: no forecast or history to plan from", field="forecasts",
                                value=0)
    week["hour"] = week["ts"].dt.hour
    frames = []
    for column, fc in (("consumption_kwh", demand), ("production_kwh", solar)):
        by_node = week.groupby(["hour", "node_id"])[column].sum().unstack(fill_value=0.0)
        share = by_node.div(by_node.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
        rows = share.reindex(hours.hour).fillna(0.0).to_numpy()
        total = np.clip(fc["mean"].to_numpy()[: len(hours)], 0.0, None)[:, None]
        frames.append(pd.DataFrame(rows * total, index=hours, columns=share.columns))
    return frames[0], frames[1]


@_model_errors("optimize")
def optimize(app: Application, start: datetime) -> dict[str, Any]:
    """Dispatch for the next 24 h on the backend's grid; one schedule commitment."""
    from models.optimization import Grid, optimize_dispatch

    grid_doc = app.backend.grid().model_dump(by_alias=True)
    grid = Grid.from_dict(grid_doc)
    hours = pd.date_range(start, periods=FORECAST_HOURS, freq="h", tz=UTC)
    demand, generation = _node_profiles(app, start, hours)
    demand = demand.reindex(columns=grid.node_ids, fill_value=0.0)
    generation = generation.reindex(columns=grid.node_ids, fill_value=0.0)
    plan = optimize_dispatch(grid, demand, generation, horizon=FORECAST_HOURS)
    summary = plan.summary()
    schedule = {"interval_start": start.isoformat(), "hours": [h.isoformat() for h in hours],
                "grid_import_kw": [round(v, 4) for v in plan.grid_import.tolist()],
                "grid_export_kw": [round(v, 4) for v in plan.grid_export.tolist()],
                "state_of_charge_kwh": {str(k): [round(v, 4) for v in col.tolist()]
                                        for k, col in plan.state_of_charge.items()},
                "nodal_prices": {str(k): [round(v, 6) for v in col.tolist()]
                                 for k, col in plan.nodal_prices.items()}}
    call = schedule_call(start, schedule, summary)
    rid = report_id("optimization", app.settings.pricing.zone, start)
    with session_scope(app.engine) as session:
        results.save_schedule(session, zone=app.settings.pricing.zone, interval_start=start,
                              horizon_h=FORECAST_HOURS, total_cost=summary["total_cost"],
                              renewable_share=summary["renewable_share"],
                              carbon_kg=summary["carbon_kg"],
                              peak_reduction=summary["peak_reduction_pct"], schedule=schedule,
                              schedule_hash=call.payload["schedule_hash"], report_id=rid)
        append_entry(session, "dispatch.schedule", {"interval_start": start, **call.payload},
                     ref=rid)
    queued = _queue(app, rid, "optimization", call, start)
    return {"cost": summary["total_cost"], "renewable_share": summary["renewable_share"],
            "peak_reduction_pct": summary["peak_reduction_pct"], "queued": queued}


def submit(app: Application) -> dict[str, Any]:
    """One pass of the transaction manager: confirm, re-send and bump, broadcast. Raises
    ``RpcUnavailable`` after recording what the pass did when the RPC stopped it early."""
    if app.txm is None:
        return {}
    with app.chain_lock:
        summary = app.txm.tick()
    with session_scope(app.engine) as session:
        for rid in summary.confirmed:
            append_entry(session, "report.confirmed", {"report_id": rid}, ref=rid)
        for err in summary.reverted:
            append_entry(session, "report.reverted", {"reason": err.reason, "tx": err.tx_hash},
                         ref=err.tx_hash)
        for rid, reason in summary.failed:
            append_entry(session, "report.failed", {"report_id": rid, "reason": reason}, ref=rid)
        for alert in summary.alerts:
            append_entry(session, "chain.alert", {"kind": alert.kind, "message": alert.message},
                         ref=alert.ref)
        pending = session.exec(_pending_reports()).all()
    _chain_metrics(app, summary, len(pending))
    if summary.deferred is not None:
        raise RpcUnavailable(summary.deferred)
    return {"broadcast": len(summary.broadcast), "confirmed": len(summary.confirmed),
            "bumped": len(summary.bumped), "reverted": len(summary.reverted),
            "resigned": len(summary.resigned), "reorged": len(summary.reorged)}


def _chain_metrics(app: Application, summary: TickSummary, pending: int) -> None:
    metrics = app.metrics
    metrics.pending_tx.set(pending)
    for alert in summary.alerts:
        metrics.alerts.labels(kind=alert.kind).inc()
    if summary.balance_wei is not None:
        metrics.signer_balance.set(summary.balance_wei)
    metrics.balance_low.set(int(summary.balance_low))
    if summary.deferred is None:
        metrics.stuck_tx.set(len(summary.stuck))


def _pending_reports() -> Any:
    from sqlmodel import col, select

    return select(Report.report_id).where(col(Report.status) != "confirmed",
                                          col(Report.status) != "failed")


def push(app: Application, start: datetime) -> dict[str, Any]:
    """Results for T back to the backend; the report id is the idempotency key."""
    zone = app.settings.pricing.zone
    pushed = 0
    with session_scope(app.engine) as session:
        round_ = session.get(PriceRound, (zone, start))
        forecasts = results.forecast_frame(session, target="demand", entity_id=zone, origin=start)
    if round_ is not None:
        app.backend.post_result("prices", {"zone": zone, "interval_start": start.isoformat(),
                                           "price": round_.price, "volume_kwh": round_.volume_kwh},
                                report_id("price", zone, start))
        pushed += 1
    if not forecasts.empty:
        app.backend.post_result("forecasts", {
            "zone": zone, "origin": start.isoformat(),
            "items": [{"ts": pd.Timestamp(t).isoformat(), "mean": m}
                      for t, m in zip(forecasts["ts"], forecasts["mean"], strict=True)]},
            report_id("forecast", zone, start))
        pushed += 1
    return {"pushed": pushed}


def _registry(app: Application) -> Any:
    from oracle.serving.registry import ModelRegistry

    return ModelRegistry(app.engine, app.settings.data_dir / "models")


def retrain(app: Application, trigger: str = "schedule") -> dict[str, Any]:
    """Champion/challenger for the zone demand forecaster on the stored history."""
    from oracle.serving.retraining import champion_challenger

    end = app.clock().replace(minute=0, second=0, microsecond=0)
    with session_scope(app.engine) as session:
        frame = totals_frame(session, end - HISTORY, end)
    y = _hourly(frame, "consumption_kwh", end - HISTORY, end).dropna()
    y.index.freq = "h"  # type: ignore[misc]
    model = app.settings.models.forecast_model
    decision = champion_challenger(_registry(app), "demand", y,
                                   lambda s: _forecaster(app).fit(s),
                                   params={"model": model}, trigger=trigger)
    rows = _refit_detector(app, end)  # the detector learns the past week, off the tick path
    return {"promoted": decision.promoted, "champion": decision.champion_score,
            "challenger": decision.challenger_score, "detector_rows": rows}


def _refit_detector(app: Application, end: datetime) -> int:
    from oracle.detection import fit_detector, groups_of

    compute = app.settings.compute
    if not groups_of(app.engine, end - DETECTION_HISTORY, end, compute.group_size):
        return 0
    with _translated("retrain"):
        detector, rows = fit_detector(app.engine, app.executor, end - DETECTION_HISTORY, end,
                                      group_size=compute.group_size,
                                      max_rows=compute.fit_sample_rows)
    app.set_anomaly_detector(detector, end)
    return rows


def monitor(app: Application) -> dict[str, Any]:
    """Live forecast error against the champion's baseline, and drift of the zone's hourly
    energy (last day against the four weeks before); an alert triggers retraining."""
    from oracle.serving.monitoring import Monitor

    end = app.clock().replace(minute=0, second=0, microsecond=0)
    with session_scope(app.engine) as session:
        frame = totals_frame(session, end - HISTORY, end)
    if frame.empty:
        return {"alerts": 0}
    recent = frame["ts"] >= end - timedelta(days=1)
    features = ["consumption_kwh", "production_kwh"]
    pairs = one_step_errors(app, end, timedelta(days=1))
    live = float((pairs["forecast"] - pairs["actual"]).abs().mean()) if not pairs.empty else None
    alerts = Monitor(app.engine, _registry(app), app.metrics).check(
        "demand", live_error=live, reference=frame.loc[~recent, features],
        current=frame.loc[recent, features])
    out: dict[str, Any] = {"alerts": len(alerts), "live_mae": live}
    if alerts:
        out["retrain"] = retrain(app, trigger="alert")
    return out


# ---------------------------------------------------------------- the tick

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

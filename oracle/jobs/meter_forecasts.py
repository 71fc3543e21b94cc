"""The forecast stage's per-meter demand forecasts, in groups of meters run through the executor.

Each task reads its group's consumption by meter range straight from the store (hourly, a
meter's missing hours interpolated from its own neighbours) and fits **one global
gradient-boosted model across the group's meters** (:func:`models.forecasting.meters.forecast_meters`:
per-meter intervals from the pooled scaled backtest errors). The caller gathers the groups and
reconciles them **top-down** to the zone's demand forecast (:func:`models.forecasting.meters.reconcile_to_zone`):
at every hour each meter's mean and intervals are scaled by the zone's mean over the meters' sum,
so the stored meters add up to the stored zone exactly. Top-down because the zone's forecast is
the one the market runs on (price, dispatch) and the one calibrated live against what arrived
(:mod:`oracle.jobs.calibration`); a household's forecast takes the zone's bias correction in
proportion to its share, and turning per-meter forecasts on or off never changes the zone's.

A fit costs about 12 s per group (three global fits: two backtest origins and the forecast)
plus about 0.075 s per meter (``benchmarks/forecast_meters.py``: ~76 s per 1,000 meters, one
thread), so it is not redone every tick: ``models.demand_meters_every_h`` (6 h) spaces the fits in
market time (:func:`due`), and the stored forecasts, 24 h long, hold in between, each adding up
to the zone forecast of its own origin. The fits run before the forecast stage opens its write
transaction (:func:`fit_meters`); only the reconciliation and the rows are written in it.
``models.demand_meters_max_meters`` caps the fleet; above the cap no per-meter forecasts are
made and the reason is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from oracle.executor import Executor
from oracle.executor.stores import store_engine, store_name
from oracle.jobs.detection_groups import Window, groups_of
from oracle.store import results
from oracle.store.engine import session_scope
from oracle.store.meter_groups import MeterGroup, group_readings

MODEL = "meters_gbm"


@dataclass(frozen=True)
class MeterTask:
    window: Window
    group: MeterGroup
    horizon: int


def wide_consumption(frame: pd.DataFrame, since: datetime, until: datetime) -> pd.DataFrame:
    """Readings (meter_id, ts, consumption_kwh) as an hourly (ts x meter) frame on [since,
    until), each meter's missing hours interpolated from its own readings."""
    index = pd.date_range(since, until, freq="h", inclusive="left", tz=UTC)
    hourly = frame.assign(ts=frame["ts"].dt.floor("h")).pivot_table(
        index="ts", columns="meter_id", values="consumption_kwh", aggfunc="sum")
    wide = hourly.reindex(index).interpolate(limit_direction="both")
    wide.columns.name = None
    return wide.asfreq("h")


def forecast_group(task: MeterTask) -> tuple[pd.DataFrame | None, str | None]:
    """One group's per-meter forecasts (meter_id, ts, mean, lo_80, ...), or why there are none."""
    from models.errors import ModelError
    from models.forecasting.meters import forecast_meters

    with session_scope(store_engine(task.window.store)) as session:
        frame = group_readings(session, task.group, task.window.since, task.window.until)
    if frame.empty:
        return None, f"{task.group!r} has no readings"
    wide = wide_consumption(frame, task.window.since, task.window.until)
    try:
        return forecast_meters(wide, task.horizon).meters, None
    except ModelError as err:
        return None, f"{task.group!r}: {err}"


@dataclass(frozen=True)
class MeterFits:
    """The groups' unreconciled per-meter forecasts (meter_id, ts, mean, lo_/hi_), or None and
    why there are none (for the audit entry)."""

    meters: pd.DataFrame | None
    why_not: str | None = None


def due(newest: datetime | None, origin: datetime, every_h: int) -> str | None:
    """None when per-meter forecasts are to be made at ``origin``, else why the stored ones hold:
    made at most every ``every_h`` hours of market time, and again at the same origin (a
    re-run tick remakes them, so they add up to the zone forecast it stores)."""
    if newest is None or newest == origin or origin - newest >= timedelta(hours=every_h):
        return None
    if newest > origin:
        return f"per-meter demand forecasts from a later origin ({newest:%Y-%m-%d %H:%M}) are stored"
    return (f"the per-meter demand forecasts of {newest:%Y-%m-%d %H:%M} hold "
            f"(models.demand_meters_every_h = {every_h})")


def fit_meters(engine: Engine, executor: Executor, since: datetime, until: datetime, *,
               horizon: int, group_size: int, max_meters: int) -> MeterFits:
    """Every meter's demand forecast for ``horizon`` hours from ``until``, from the readings in
    [since, until), one global model per group of meters through ``executor``; or why not (the
    cap, no meters, a group the model refused). Runs outside any write transaction."""
    if max_meters == 0:
        return MeterFits(None, "models.demand_meters_max_meters is 0: per-meter demand "
                               "forecasts are off")
    groups = groups_of(engine, since, until, group_size)
    count = sum(len(g.meters) for g in groups)
    if count == 0:
        return MeterFits(None, "no meter has readings")
    if count > max_meters:
        return MeterFits(None, f"{count} meters exceed models.demand_meters_max_meters "
                               f"({max_meters}): per-meter demand forecasts are off")
    window = Window(store_name(engine), since, until)
    done = executor.map_groups(forecast_group, [MeterTask(window, g, horizon) for g in groups])
    refused = [why for _, why in done if why is not None]
    if refused:
        return MeterFits(None, refused[0])
    meters = pd.concat([part for part, _ in done if part is not None], ignore_index=True)
    meters["ts"] = pd.DatetimeIndex(meters["ts"]).tz_convert(UTC)
    return MeterFits(meters)


def by_meter(meters: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The reconciled frame as one forecast frame (index ts) per meter, for ``save_forecast``."""
    return {str(meter_id): part.set_index("ts").drop(columns="meter_id")
            for meter_id, part in meters.groupby("meter_id", sort=True)}


def save_meter_forecasts(session: Session, fits: MeterFits, *, origin: datetime,
                         zone: pd.DataFrame) -> dict[str, Any]:
    """Reconcile ``fits`` top-down to ``zone`` (index ts, mean, lo_/hi_ columns: the calibrated
    zone forecast of the same origin) and store them (``target="demand"``,
    ``entity_id=<meter_id>``) in the caller's session with the zone's; returns what the audit
    entry keeps."""
    from models.errors import ModelError
    from models.forecasting.meters import reconcile_to_zone

    if fits.meters is None:
        return {"demand_meters": 0, "demand_meters_off": fits.why_not}
    try:
        meters = reconcile_to_zone(fits.meters, zone)
    except ModelError as err:
        return {"demand_meters": 0, "demand_meters_off": str(err)}
    frames = by_meter(meters)
    for meter_id, frame in frames.items():
        results.save_forecast(session, target="demand", entity_id=meter_id, origin=origin,
                              frame=frame, model=MODEL)
    return {"demand_meters": len(frames)}

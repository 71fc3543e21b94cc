"""The optimize stage: dispatch for [T, T+24 h) on the backend's grid (-> store, outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from oracle.chain.reports import (
    report_id,
    schedule_call,
)
from oracle.errors import SourceDataInvalid
from oracle.jobs.shared import FORECAST_HOURS, queue
from oracle.model_errors import model_errors
from oracle.sources.client import BackendClient
from oracle.store import results
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.readings import totals_frame

if TYPE_CHECKING:
    from oracle.chain.txmanager import TxManager


@dataclass(frozen=True)
class OptimizeParts:
    """What the optimize stage uses: the store, the backend's grid document, the zone and the
    transaction manager (None: no chain) its schedule commitment is queued with."""

    engine: Engine
    backend: BackendClient
    zone: str  # pricing.zone
    txm: TxManager | None


def _node_profiles(parts: OptimizeParts, start: datetime, hours: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the zone forecasts over nodes by each node's share of the past week, per hour of day."""
    zone = parts.zone
    with session_scope(parts.engine) as session:
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


@model_errors("optimize", unexpected=True)
def optimize(parts: OptimizeParts, start: datetime) -> dict[str, Any]:
    """Dispatch for the next 24 h on the backend's grid; one schedule commitment."""
    from models.optimization import Grid, optimize_dispatch

    grid_doc = parts.backend.grid().model_dump(by_alias=True)
    grid = Grid.from_dict(grid_doc)
    hours = pd.date_range(start, periods=FORECAST_HOURS, freq="h", tz=UTC)
    demand, generation = _node_profiles(parts, start, hours)
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
    rid = report_id("optimization", parts.zone, start)
    with session_scope(parts.engine) as session:
        results.save_schedule(session, zone=parts.zone, interval_start=start,
                              horizon_h=FORECAST_HOURS, total_cost=summary["total_cost"],
                              renewable_share=summary["renewable_share"],
                              carbon_kg=summary["carbon_kg"],
                              peak_reduction=summary["peak_reduction_pct"], schedule=schedule,
                              schedule_hash=call.payload["schedule_hash"], report_id=rid)
        append_entry(session, "dispatch.schedule", {"interval_start": start, **call.payload},
                     ref=rid)
    queued = queue(parts.txm, rid, "optimization", call, start)
    return {"cost": summary["total_cost"], "renewable_share": summary["renewable_share"],
            "peak_reduction_pct": summary["peak_reduction_pct"], "queued": queued}

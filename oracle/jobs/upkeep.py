"""The models' upkeep, off the tick path: champion/challenger retraining of the demand
forecaster (and a refit of the anomaly detector), and monitoring that triggers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from oracle.config import ComputeSettings, ModelSettings
from oracle.executor import Executor
from oracle.jobs.detection import DetectorHolder
from oracle.jobs.forecasting import forecaster_for, one_step_errors
from oracle.jobs.shared import DETECTION_HISTORY, HISTORY, hourly
from oracle.lifecycle.registry import ModelRegistry
from oracle.model_errors import model_errors
from oracle.store.engine import session_scope
from oracle.store.readings import totals_frame
from oracle.telemetry import Metrics


@dataclass(frozen=True)
class UpkeepParts:
    """What retrain and monitor use: the store and the model registry, ``[models]``
    and ``[compute]``, the executor the detector is refitted on, the detector the detect stage
    scores with (replaced here), the clock and the metrics."""

    engine: Engine
    registry: ModelRegistry
    models: ModelSettings
    compute: ComputeSettings
    executor: Executor
    detector: DetectorHolder
    clock: Callable[[], datetime]
    metrics: Metrics
    zone: str  # pricing.zone: the zone whose forecasts are monitored


def retrain(parts: UpkeepParts, trigger: str = "schedule") -> dict[str, Any]:
    """Champion/challenger for the zone demand forecaster on the stored history."""
    from oracle.lifecycle.retraining import champion_challenger

    end = parts.clock().replace(minute=0, second=0, microsecond=0)
    with session_scope(parts.engine) as session:
        frame = totals_frame(session, end - HISTORY, end)
    y = hourly(frame, "consumption_kwh", end - HISTORY, end).dropna()
    y.index.freq = "h"  # type: ignore[misc]
    model = parts.models.forecast_model
    decision = champion_challenger(parts.registry, "demand", y,
                                   lambda s: forecaster_for(parts.models).fit(s),
                                   params={"model": model}, trigger=trigger)
    rows = _refit_detector(parts, end)  # the detector learns the past week, off the tick path
    return {"promoted": decision.promoted, "champion": decision.champion_score,
            "challenger": decision.challenger_score, "detector_rows": rows}


def _refit_detector(parts: UpkeepParts, end: datetime) -> int:
    """Refit the anomaly detector on the past week, in groups of meters; the rows it read."""
    from oracle.jobs.detection_groups import fit_detector, groups_of

    compute = parts.compute
    if not groups_of(parts.engine, end - DETECTION_HISTORY, end, compute.group_size):
        return 0
    with model_errors("retrain", unexpected=True):
        detector, rows = fit_detector(parts.engine, parts.executor, end - DETECTION_HISTORY, end,
                                      group_size=compute.group_size,
                                      max_rows=compute.fit_sample_rows)
    parts.detector.replace(detector, end)
    return rows


def monitor(parts: UpkeepParts) -> dict[str, Any]:
    """Live forecast error against the champion's baseline, and drift of the zone's hourly
    energy (last day against the four weeks before); an alert triggers retraining."""
    from oracle.lifecycle.monitoring import Monitor

    end = parts.clock().replace(minute=0, second=0, microsecond=0)
    with session_scope(parts.engine) as session:
        frame = totals_frame(session, end - HISTORY, end)
    if frame.empty:
        return {"alerts": 0}
    recent = frame["ts"] >= end - timedelta(days=1)
    features = ["consumption_kwh", "production_kwh"]
    pairs = one_step_errors(parts.engine, parts.zone, end, timedelta(days=1))
    live = float((pairs["forecast"] - pairs["actual"]).abs().mean()) if not pairs.empty else None
    alerts = Monitor(parts.engine, parts.registry, parts.metrics).check(
        "demand", live_error=live, reference=frame.loc[~recent, features],
        current=frame.loc[recent, features])
    out: dict[str, Any] = {"alerts": len(alerts), "live_mae": live}
    if alerts:
        out["retrain"] = retrain(parts, trigger="alert")
    return out

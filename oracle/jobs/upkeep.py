"""The models' upkeep, off the tick path: champion/challenger retraining of the demand
forecaster (and a refit of the anomaly detector), and monitoring that triggers it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from oracle.jobs.forecasting import forecaster_for, one_step_errors
from oracle.jobs.shared import DETECTION_HISTORY, HISTORY, hourly
from oracle.model_errors import model_errors
from oracle.store.engine import session_scope
from oracle.store.readings import totals_frame

if TYPE_CHECKING:
    from oracle.app import Application


def _registry(app: Application) -> Any:
    from oracle.lifecycle.registry import ModelRegistry

    return ModelRegistry(app.engine, app.settings.data_dir / "models")


def retrain(app: Application, trigger: str = "schedule") -> dict[str, Any]:
    """Champion/challenger for the zone demand forecaster on the stored history."""
    from oracle.lifecycle.retraining import champion_challenger

    end = app.clock().replace(minute=0, second=0, microsecond=0)
    with session_scope(app.engine) as session:
        frame = totals_frame(session, end - HISTORY, end)
    y = hourly(frame, "consumption_kwh", end - HISTORY, end).dropna()
    y.index.freq = "h"  # type: ignore[misc]
    model = app.settings.models.forecast_model
    decision = champion_challenger(_registry(app), "demand", y,
                                   lambda s: forecaster_for(app).fit(s),
                                   params={"model": model}, trigger=trigger)
    rows = _refit_detector(app, end)  # the detector learns the past week, off the tick path
    return {"promoted": decision.promoted, "champion": decision.champion_score,
            "challenger": decision.challenger_score, "detector_rows": rows}


def _refit_detector(app: Application, end: datetime) -> int:
    """Refit the anomaly detector on the past week, in groups of meters; the rows it read."""
    from oracle.jobs.detection_groups import fit_detector, groups_of

    compute = app.settings.compute
    if not groups_of(app.engine, end - DETECTION_HISTORY, end, compute.group_size):
        return 0
    with model_errors("retrain", unexpected=True):
        detector, rows = fit_detector(app.engine, app.executor, end - DETECTION_HISTORY, end,
                                      group_size=compute.group_size,
                                      max_rows=compute.fit_sample_rows)
    app.set_anomaly_detector(detector, end)
    return rows


def monitor(app: Application) -> dict[str, Any]:
    """Live forecast error against the champion's baseline, and drift of the zone's hourly
    energy (last day against the four weeks before); an alert triggers retraining."""
    from oracle.lifecycle.monitoring import Monitor

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

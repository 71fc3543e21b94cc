"""The detect stage: anomalies in the last ended interval [T-1, T) (-> store, outbox)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from oracle.chain.reports import (
    anomaly_call,
    report_id,
    round_number,
)
from oracle.errors import SourceDataInvalid
from oracle.jobs.shared import DETECTION_HISTORY, queue
from oracle.model_errors import model_errors
from oracle.store import results
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.readings import readings_frame

if TYPE_CHECKING:
    from oracle.app import Application


@model_errors("detect", unexpected=True)
def detect(app: Application, start: datetime) -> dict[str, Any]:
    """Anomalies in the last ended interval, against the past week; one batch report."""
    step = timedelta(seconds=app.settings.scheduler.interval_s)
    with session_scope(app.engine) as session:
        history = readings_frame(session, start - step - DETECTION_HISTORY, start - step)
        current = readings_frame(session, start - step, start)
    if current.empty:
        raise SourceDataInvalid(f"detect: no readings for {start - step:%Y-%m-%d %H:%M}",
                                field="readings", value=0)
    detector = app.anomaly_detector(history, start)
    found = detector.detect(current.drop(columns=["node_id"]))
    rid = report_id("anomaly", app.settings.pricing.zone, start)
    with session_scope(app.engine) as session:
        results.save_anomalies(session, start, found, rid)
        append_entry(session, "anomaly.batch", {"interval_start": start, "count": len(found),
                                                "types": found["type"].value_counts().to_dict()
                                                if not found.empty else {}}, ref=rid)
    call = anomaly_call(round_number(start, app.settings.scheduler.interval_s), found)
    queued = queue(app, rid, "anomaly", call, start)
    return {"anomalies": len(found), "flagged": call.payload["flagged"], "queued": queued}

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
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope

if TYPE_CHECKING:
    from oracle.app import Application


@model_errors("detect", unexpected=True)
def detect(app: Application, start: datetime) -> dict[str, Any]:
    """Anomalies in the last ended interval, against the past week; one batch report. The
    per-meter work runs in groups of meters through ``app.executor``
    (:mod:`oracle.jobs.detection_groups`)."""
    from oracle.jobs.detection_groups import detect_anomalies, fit_detector, groups_of

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
    queued = queue(app, rid, "anomaly", call, start)
    return {"anomalies": len(found), "flagged": call.payload["flagged"], "queued": queued}

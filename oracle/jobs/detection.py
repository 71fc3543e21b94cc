"""The detect stage: anomalies in the last ended interval [T-1, T) (-> store, outbox)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from oracle.chain.reports import (
    anomaly_call,
    report_id,
    round_number,
)
from oracle.config import ComputeSettings
from oracle.errors import SourceDataInvalid
from oracle.executor import Executor
from oracle.jobs.shared import DETECTION_HISTORY, queue
from oracle.model_errors import model_errors
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope

if TYPE_CHECKING:
    from models.anomaly import AnomalyDetector
    from oracle.chain.txmanager import TxManager


class DetectorHolder:
    """The fitted anomaly detector the detect stage scores with, and when it was fitted: fitted
    by the first detect that needs it, replaced by the retrain job (``upkeep``)."""

    def __init__(self) -> None:
        self._fitted: tuple[datetime, AnomalyDetector] | None = None

    def current(self, fit: Callable[[], AnomalyDetector], now: datetime) -> AnomalyDetector:
        """The fitted detector; ``fit()`` (at ``now``) when there is none yet."""
        if self._fitted is None:
            self.replace(fit(), now)
        assert self._fitted is not None
        return self._fitted[1]

    def replace(self, detector: AnomalyDetector, now: datetime) -> None:
        self._fitted = (now, detector)

    def clear(self) -> None:
        """Forget the detector: the next detect fits one, as a fresh daemon's first does."""
        self._fitted = None

    @property
    def fitted_at(self) -> datetime | None:
        return self._fitted[0] if self._fitted is not None else None


@dataclass(frozen=True)
class DetectParts:
    """What the detect stage uses: the store, the executor the per-meter groups run on and
    ``[compute]``, the interval length, the zone, the detector and the transaction manager."""

    engine: Engine
    executor: Executor
    compute: ComputeSettings
    interval_s: int  # scheduler.interval_s
    zone: str  # pricing.zone
    detector: DetectorHolder
    txm: TxManager | None


@model_errors("detect", unexpected=True)
def detect(parts: DetectParts, start: datetime) -> dict[str, Any]:
    """Anomalies in the last ended interval, against the past week; one batch report. The
    per-meter work runs in groups of meters through ``parts.executor``
    (:mod:`oracle.jobs.detection_groups`)."""
    from oracle.jobs.detection_groups import detect_anomalies, fit_detector, groups_of

    step = timedelta(seconds=parts.interval_s)
    compute = parts.compute
    if not groups_of(parts.engine, start - step, start, compute.group_size):
        raise SourceDataInvalid(f"detect: no readings for {start - step:%Y-%m-%d %H:%M}",
                                field="readings", value=0)
    detector = parts.detector.current(lambda: fit_detector(
        parts.engine, parts.executor, start - step - DETECTION_HISTORY, start - step,
        group_size=compute.group_size, max_rows=compute.fit_sample_rows)[0], start)
    rid = report_id("anomaly", parts.zone, start)
    found = detect_anomalies(parts.engine, parts.executor, detector, start - step, start,
                             interval_start=start, report_id=rid, group_size=compute.group_size)
    with session_scope(parts.engine) as session:
        append_entry(session, "anomaly.batch", {"interval_start": start, "count": len(found),
                                                "types": found["type"].value_counts().to_dict()
                                                if not found.empty else {}}, ref=rid)
    call = anomaly_call(round_number(start, parts.interval_s), found)
    queued = queue(parts.txm, rid, "anomaly", call, start)
    return {"anomalies": len(found), "flagged": call.payload["flagged"], "queued": queued}

"""The submit stage: one pass of the transaction manager (outbox -> chain), audited."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from oracle.errors import RpcUnavailable
from oracle.jobs.published import record_confirmed
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.outbox import open_report_ids
from oracle.telemetry import Metrics

if TYPE_CHECKING:
    from oracle.chain.summary import TickSummary
    from oracle.chain.txmanager import TxManager


@dataclass(frozen=True)
class SubmitParts:
    """What the submit stage uses: the transaction manager (None: no chain) and the lock that
    keeps its passes one at a time, the store for the audit, the chain metrics."""

    engine: Engine
    txm: TxManager | None
    chain_lock: threading.Lock
    metrics: Metrics
    interval_s: int  # scheduler.interval_s: a confirmed price report's round number
    clock: Callable[[], datetime]


def submit(parts: SubmitParts) -> dict[str, Any]:
    """One pass of the transaction manager: confirm, re-send and bump, broadcast. Raises
    ``RpcUnavailable`` after recording what the pass did when the RPC stopped it early."""
    if parts.txm is None:
        return {}
    with parts.chain_lock:
        summary = parts.txm.tick()
    with session_scope(parts.engine) as session:
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
        pending = open_report_ids(session)
        record_confirmed(session, parts.metrics, summary.confirmed,
                         interval_s=parts.interval_s, now=parts.clock())
    _chain_metrics(parts.metrics, summary, len(pending))
    if summary.deferred is not None:
        raise RpcUnavailable(summary.deferred)
    return {"broadcast": len(summary.broadcast), "confirmed": len(summary.confirmed),
            "bumped": len(summary.bumped), "reverted": len(summary.reverted),
            "resigned": len(summary.resigned), "reorged": len(summary.reorged)}


def _chain_metrics(metrics: Metrics, summary: TickSummary, pending: int) -> None:
    metrics.pending_tx.set(pending)
    for alert in summary.alerts:
        metrics.alerts.labels(kind=alert.kind).inc()
    if summary.balance_wei is not None:
        metrics.signer_balance.set(summary.balance_wei)
    metrics.balance_low.set(int(summary.balance_low))
    if summary.deferred is None:
        metrics.stuck_tx.set(len(summary.stuck))

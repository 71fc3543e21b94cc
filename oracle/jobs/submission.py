"""The submit stage: one pass of the transaction manager (outbox -> chain), audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oracle.errors import RpcUnavailable
from oracle.jobs.published import record_confirmed
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.tables import Report

if TYPE_CHECKING:
    from oracle.app import Application
    from oracle.chain.summary import TickSummary


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
        record_confirmed(session, app.metrics, summary.confirmed,
                         interval_s=app.settings.scheduler.interval_s, now=app.clock())
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

"""Metrics for what reached the chain: the last confirmed price per zone and the gas spent.

Called once per transaction-manager pass with the reports it saw confirmed; a price report's
round, value and time come from its `price_rounds` row, the gas from its confirmed transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlmodel import Session

from oracle.chain.reports import round_number
from oracle.store.outbox import confirmed_attempts, reports_by_id
from oracle.store.results import rounds_of_reports
from oracle.telemetry import Metrics


def record_confirmed(session: Session, metrics: Metrics, confirmed: Iterable[str], *,
                     interval_s: int, now: datetime) -> None:
    """Add each confirmed report's gas to `oracle_gas_used_total{kind}` and move the
    `oracle_last_price*{zone}` gauges to the newest confirmed price round."""
    ids = list(dict.fromkeys(confirmed))
    if not ids:
        return
    reports = {r.report_id: r for r in reports_by_id(session, ids)}
    for tx in confirmed_attempts(session, ids):
        if tx.gas_used is not None and tx.report_id in reports:
            metrics.gas_spent.labels(kind=reports[tx.report_id].kind).inc(tx.gas_used)
    rounds = rounds_of_reports(session, ids)
    for row in rounds:  # oldest first: the newest confirmed round is what stays
        if row.price is None:
            continue
        start = row.interval_start if row.interval_start.tzinfo else row.interval_start.replace(
            tzinfo=UTC)
        metrics.price.labels(zone=row.zone).set(row.price)
        metrics.price_round.labels(zone=row.zone).set(round_number(start, interval_s))
        metrics.price_updated.labels(zone=row.zone).set(now.timestamp())

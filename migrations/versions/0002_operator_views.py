"""Operator views: recent price rounds, anomalies, submissions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEWS = {
    # One row per cleared interval and zone, with what happened to its on-chain report.
    "v_price_rounds": """
        SELECT p.zone, p.interval_start, p.price, p.volume_kwh, p.rule, p.published,
               p.publish_reason, r.report_id, r.status AS report_status,
               t.tx_hash, t.block_number, t.gas_used
        FROM price_rounds p
        LEFT JOIN reports r ON r.report_id = p.report_id
        LEFT JOIN transactions t ON t.report_id = r.report_id AND t.status = 'confirmed'
    """,
    # Anomalies with the meter's node and owner.
    "v_anomalies": """
        SELECT a.ts, a.meter_id, m.node_id, m.user_id, a.type, a.severity, a.score,
               a.confidence, a.recommended_action, a.report_id
        FROM anomalies a LEFT JOIN meters m ON m.meter_id = a.meter_id
    """,
    # Every report with its latest transaction attempt.
    "v_submissions": """
        SELECT r.report_id, r.kind, r.interval_start, r.status, r.error, r.created_at,
               t.tx_hash, t.nonce, t.status AS tx_status, t.block_number, t.gas_used,
               t.effective_gas_price
        FROM reports r
        LEFT JOIN transactions t ON t.id = (
            SELECT MAX(t2.id) FROM transactions t2 WHERE t2.report_id = r.report_id)
    """,
}


def upgrade() -> None:
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")

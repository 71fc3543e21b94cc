"""Ingest hardening: quarantine rows deduplicated and counted in TEXT columns, opaque cursors of
any length, and the readings windows the backend could not deliver (skipped_windows).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# quarantine text columns: (name, the varchar length they had, nullable)
TEXT_COLUMNS = (("row_key", 200, True), ("field", 64, True), ("value", 500, True),
                ("reason", 500, False))
NEW_COLUMNS = (("payload_hash", sqlmodel.sql.sqltypes.AutoString(length=64)),
               ("dedup_key", sqlmodel.sql.sqltypes.AutoString(length=64)),
               ("count", sa.Integer()), ("last_seen_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    op.create_table(
        "skipped_windows",
        sa.Column("stream", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", "window_start"),
    )
    with op.batch_alter_table("ingest_cursors", schema=None) as batch_op:
        batch_op.alter_column("cursor", existing_type=sa.VARCHAR(length=500), type_=sa.Text(),
                              existing_nullable=True)
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        for name, length, nullable in TEXT_COLUMNS:
            batch_op.alter_column(name, existing_type=sa.VARCHAR(length=length), type_=sa.Text(),
                                  existing_nullable=nullable)
        for name, type_ in NEW_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    # Rows quarantined before this revision stay one row each.
    op.execute("UPDATE quarantine SET payload_hash = '', count = 1, last_seen_at = received_at, "
               "dedup_key = 'legacy-' || CAST(id AS VARCHAR(20))")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        for name, type_ in NEW_COLUMNS:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.create_index("ux_quarantine_dedup_key", ["dedup_key"], unique=True)


def downgrade() -> None:
    """Counts and skipped windows are dropped; text longer than the old columns is cut, and a
    cursor too long for them is cleared (the next pass walks from the watermark)."""
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index("ux_quarantine_dedup_key")
        for name, _ in reversed(NEW_COLUMNS):
            batch_op.drop_column(name)
        for name, length, nullable in TEXT_COLUMNS:
            batch_op.alter_column(name, existing_type=sa.Text(), type_=sa.VARCHAR(length=length),
                                  existing_nullable=nullable,
                                  postgresql_using=f"left({name}, {length})")
    op.execute("UPDATE ingest_cursors SET cursor = NULL WHERE length(cursor) > 500")
    with op.batch_alter_table("ingest_cursors", schema=None) as batch_op:
        batch_op.alter_column("cursor", existing_type=sa.Text(), type_=sa.VARCHAR(length=500),
                              existing_nullable=True)
    op.drop_table("skipped_windows")

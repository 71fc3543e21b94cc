"""Weather forecast issues kept apart: ``weather_forecasts`` holds every issue, one row per
(location, issued_at, ts); ``weather`` keeps the hours that had ended (the observations) and
loses its ``issued_at`` column.

Before this revision ``weather`` was keyed on (location, ts) and a row with ``issued_at`` set
was the latest forecast issue for that hour (earlier issues were already overwritten). Those
rows move to ``weather_forecasts`` under their ``issued_at``; the observed rows stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VALUES = ("temperature_2m", "relative_humidity_2m", "shortwave_radiation",
          "direct_normal_irradiance", "diffuse_radiation", "wind_speed_10m", "cloud_cover")
_COLUMNS = ", ".join(VALUES)


def upgrade() -> None:
    op.create_table(
        "weather_forecasts",
        *(sa.Column(name, sa.Float(), nullable=True) for name in VALUES),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("location", "issued_at", "ts"),
    )
    op.create_index("ix_weather_forecasts_location_ts", "weather_forecasts", ["location", "ts"])
    op.execute(f"INSERT INTO weather_forecasts (location, issued_at, ts, {_COLUMNS}, ingested_at) "
               f"SELECT location, issued_at, ts, {_COLUMNS}, ingested_at FROM weather "
               "WHERE issued_at IS NOT NULL")
    op.execute("DELETE FROM weather WHERE issued_at IS NOT NULL")
    with op.batch_alter_table("weather", schema=None) as batch_op:
        batch_op.drop_column("issued_at")


def downgrade() -> None:
    """Back to one row per (location, ts): an hour with an observation keeps it; an hour with
    only forecasts gets its newest issue, ``issued_at`` set. Older issues are dropped."""
    with op.batch_alter_table("weather", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"INSERT INTO weather (location, ts, {_COLUMNS}, issued_at, ingested_at) "
               f"SELECT f.location, f.ts, {', '.join(f'f.{c}' for c in VALUES)}, f.issued_at, "
               "f.ingested_at FROM weather_forecasts f "
               "WHERE f.issued_at = (SELECT MAX(g.issued_at) FROM weather_forecasts g "
               "WHERE g.location = f.location AND g.ts = f.ts) "
               "AND NOT EXISTS (SELECT 1 FROM weather w WHERE w.location = f.location "
               "AND w.ts = f.ts)")
    op.drop_table("weather_forecasts")

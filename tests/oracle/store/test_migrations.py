from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from oracle.errors import SchemaOutdated
from oracle.store.engine import make_engine
from oracle.store.migrate import check_schema, current_revision, downgrade, head_revision, upgrade


def _tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _tables(engine) == set(SQLModel.metadata.tables)
    assert {"v_price_rounds", "v_anomalies", "v_submissions"} <= set(inspect(engine).get_view_names())
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert _tables(engine) == set()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    check_schema(engine)


def test_migrations_match_the_tables(db_url: str) -> None:
    """The migrations create exactly what tables.py declares (no forgotten migration)."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                SQLModel.metadata)
    assert diff == []


def test_schema_behind_code_tells_operator_to_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(SchemaOutdated, match="oracle db upgrade"):
        check_schema(engine)
    upgrade(engine, "0001")
    with pytest.raises(SchemaOutdated, match="at revision 0001"):
        check_schema(engine)


def test_views_answer_queries(engine) -> None:
    with engine.connect() as conn:
        for view in ("v_price_rounds", "v_anomalies", "v_submissions"):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {view}")).scalar_one() == 0

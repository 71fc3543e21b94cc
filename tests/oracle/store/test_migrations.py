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


def test_ingest_hardening_keeps_what_was_quarantined_and_goes_back(db_url: str) -> None:
    """0003 turns existing quarantine rows into counted ones and widens the text columns;
    downgrading cuts text back to the old sizes and clears a cursor too long for them."""
    engine = make_engine(db_url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        for i in range(2):  # two identical rows from before: they stay two rows
            conn.execute(text("INSERT INTO quarantine (source, row_key, field, value, reason, "
                              "received_at) VALUES ('readings', 'm1|t', 'ts', 'x', 'bad', "
                              f"'2026-01-0{i + 1} 00:00:00+00:00')"))
    upgrade(engine)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT dedup_key, count, payload_hash FROM quarantine "
                                 "ORDER BY id")).all()
        assert [r[1] for r in rows] == [1, 1] and len({r[0] for r in rows}) == 2
        conn.execute(text("UPDATE quarantine SET reason = :r"), {"r": "y" * 5000})
        conn.execute(text("INSERT INTO ingest_cursors (stream, cursor, updated_at) VALUES "
                          "('readings', :c, '2026-01-01 00:00:00+00:00')"), {"c": "c" * 900})
    downgrade(engine, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT cursor FROM ingest_cursors")).scalar_one() is None
        lengths = conn.execute(text("SELECT length(reason) FROM quarantine")).scalars().all()
    if engine.dialect.name == "postgresql":  # SQLite does not enforce varchar lengths
        assert lengths == [500, 500]
    upgrade(engine)
    check_schema(engine)

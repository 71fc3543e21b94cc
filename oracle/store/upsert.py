"""Idempotent writes: INSERT .. ON CONFLICT on the table's key, for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from oracle.store.chunks import chunks


def upsert(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], *,
           key: Sequence[str], update: Sequence[str] | None = None,
           add: Sequence[str] = ()) -> int:
    """Insert ``rows``; on a key conflict update ``update`` columns (None: all non-key columns;
    empty: keep the stored row) and add the new value to the stored one for ``add`` columns
    (counters). Rows are written in key order so concurrent writers lock rows in the same
    order. Returns the number of rows given."""
    if not rows:
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    columns = list(rows[0])
    if update is None:
        update = [c for c in columns if c not in key and c not in add]
    stmt = insert(table)
    if update or add:
        set_ = {c: stmt.excluded[c] for c in update}
        set_.update({c: table.c[c] + stmt.excluded[c] for c in add})
        stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=set_)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    ordered = sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))
    # One compiled single-row statement, handed to the driver's executemany a chunk of rows at
    # a time: each execution binds one row's columns, so no row count reaches the drivers'
    # parameter limits (a multi-row VALUES over 70,000 rows does; compiling one per chunk
    # also costs ten times more). tests/oracle/store/test_readings.py checks 70,000 rows.
    for chunk in chunks(ordered):
        session.execute(stmt, chunk)
    return len(ordered)

"""Idempotent writes: INSERT .. ON CONFLICT on the table's key, for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

_BATCH = 10_000


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
    # One compiled statement, executed for many parameter sets (SQLAlchemy batches them into
    # multi-row INSERTs): compiling a fresh multi-row VALUES per chunk costs ten times more.
    for start in range(0, len(ordered), _BATCH):
        session.execute(stmt, ordered[start:start + _BATCH])
    return len(ordered)

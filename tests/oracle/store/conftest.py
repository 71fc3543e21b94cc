"""Store fixtures: an engine that enforces SQLite's default bound-parameter limit."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from oracle.store.chunks import SQLITE_MAX_PARAMETERS


def _default_sqlite_limit(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_MAX_PARAMETERS)


@pytest.fixture
def strict_engine(engine: Engine) -> Iterator[Engine]:
    """``engine`` with SQLite held to its default limit of 32,766 bound parameters (Debian's
    build allows 250,000, others do not); PostgreSQL's 65,535 is the protocol's own. Checked:
    a statement one parameter over the limit fails."""
    limit = SQLITE_MAX_PARAMETERS
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _default_sqlite_limit)
        engine.dispose()  # connections made from here on carry the limit
    else:
        limit = 65_535
    over = ",".join(f":p{i}" for i in range(limit + 1))
    with pytest.raises(OperationalError, match=r"too many SQL variables|number of parameters"), \
            engine.connect() as conn:
        conn.execute(text(f"SELECT 1 WHERE 1 IN ({over})"), {f"p{i}": i for i in range(limit + 1)})
    yield engine

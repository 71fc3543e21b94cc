"""Database failures enter our code as one clear error each, and roll the transaction back whole.

Real failures, no mocks: SQLite's ``PRAGMA max_page_count`` makes "database or disk is full"
real, ``?mode=ro`` a read-only file (chmod does not stop root), and PostgreSQL's
``pg_terminate_backend`` kills the connection in the middle of a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from oracle.errors import ConfigError, StoreFull, StoreReadOnly, StoreUnavailable
from oracle.store.engine import make_engine, ping, session_scope


def rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT k, v FROM t ORDER BY k"))]


def seeded(url: str) -> Engine:
    engine = make_engine(url)
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)"))
        session.execute(text("INSERT INTO t VALUES (1, 'one'), (2, 'two')"))
    return engine


def cap_pages(engine: Engine) -> None:
    """Every new connection may not grow the file beyond its current size."""
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()

    @event.listens_for(engine, "connect")
    def _cap(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    engine.dispose()


def test_a_full_sqlite_file_is_store_full_and_nothing_is_half_written(tmp_path: Path) -> None:
    engine = seeded(f"sqlite:///{tmp_path}/full.db")
    before = rows(engine)
    cap_pages(engine)
    with pytest.raises(StoreFull) as info, session_scope(engine) as session:
        session.execute(text("UPDATE t SET v = 'changed' WHERE k = 1"))
        for k in range(3, 2000):
            session.execute(text("INSERT INTO t VALUES (:k, :v)"), {"k": k, "v": "x" * 500})
    message = str(info.value)
    assert "is full (database or disk is full)" in message and "rolled back" in message
    assert "\n" not in message and info.value.exit_code == 1
    assert rows(engine) == before  # the update and the inserts went together


def test_a_read_only_sqlite_file_is_store_read_only(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    before = rows(seeded(f"sqlite:///{path}"))
    engine = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert rows(engine) == before  # reading works
    with pytest.raises(StoreReadOnly, match=r"is read-only \(attempt to write a readonly"), \
            session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (3, 'three')"))
    assert rows(make_engine(f"sqlite:///{path}")) == before


def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    with pytest.raises(ConfigError, match=r"database_url.*not a usable SQLite database"):
        make_engine(f"sqlite:///{path}")
    assert path.read_bytes().startswith(b"these are my notes")


@pytest.mark.parametrize("url", [
    "postgresql://postgres:hunter2secret@127.0.0.1:abc/test",
    "postgresql://postgres:hunter2secret@[::1/test",
])
def test_a_malformed_url_names_the_setting_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_engine(url)
    assert "database_url" in str(info.value) and "hunter2secret" not in str(info.value)
    assert "hunter2secret" not in repr(info.value.value)
    assert info.value.exit_code == 2


def test_nothing_listening_is_store_unavailable_without_the_password() -> None:
    url = "postgresql://postgres:hunter2secret@127.0.0.1:1/test"  # nothing listens on port 1
    with pytest.raises(StoreUnavailable) as info:
        make_engine(url)
    assert "cannot connect to the database postgresql://postgres:***@127.0.0.1" in str(info.value)
    assert "hunter2secret" not in str(info.value)


@pytest.fixture
def pg_engine(pg_schema: str) -> Iterator[Engine]:
    engine = seeded(pg_schema)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_a_postgres_connection_killed_mid_transaction_rolls_back_whole(
        pg_engine: Engine, pg_schema: str) -> None:
    before = rows(pg_engine)
    admin = make_engine(pg_schema)
    with pytest.raises(StoreUnavailable) as info, session_scope(pg_engine) as session:
        session.execute(text("UPDATE t SET v = 'changed' WHERE k = 1"))
        session.execute(text("INSERT INTO t VALUES (3, 'three')"))
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.execute(text("INSERT INTO t VALUES (4, 'four')"))
    message = str(info.value)  # the reason is the server's: killed, or closed unexpectedly
    assert message.startswith("lost the database postgresql") and "rolled back" in message
    assert "terminating connection" in message or "closed the connection" in message
    assert rows(pg_engine) == before  # the pool reconnects; nothing of the transaction stayed
    admin.dispose()


@pytest.mark.postgres
def test_a_read_only_postgres_transaction_is_store_read_only(pg_engine: Engine) -> None:
    before = rows(pg_engine)
    with pytest.raises(StoreReadOnly, match="read-only"), session_scope(pg_engine) as session:
        session.execute(text("SET TRANSACTION READ ONLY"))
        session.execute(text("INSERT INTO t VALUES (3, 'three')"))
    assert rows(pg_engine) == before


def test_constraint_violations_pass_through_for_their_callers(tmp_path: Path) -> None:
    from sqlalchemy.exc import IntegrityError

    engine = seeded(f"sqlite:///{tmp_path}/t.db")
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1, 'again')"))
    assert rows(engine) == [(1, "one"), (2, "two")]


@pytest.mark.postgres
def test_a_missing_postgres_database_is_store_unavailable(pg_schema: str) -> None:
    url = pg_schema.split("?")[0].rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StoreUnavailable,
                       match=r'cannot connect.*"no_such_database_here" does not exist'):
        make_engine(url)


@pytest.mark.postgres
def test_a_statement_timeout_is_not_called_an_outage(pg_engine: Engine) -> None:
    from sqlalchemy.exc import OperationalError

    with pytest.raises(OperationalError, match="statement timeout"), \
            session_scope(pg_engine) as session:
        session.execute(text("SET LOCAL statement_timeout = 50"))
        session.execute(text("SELECT pg_sleep(2)"))
    assert rows(pg_engine) == [(1, "one"), (2, "two")]


@pytest.mark.postgres
def test_a_statement_over_the_parameter_limit_is_not_called_an_outage(
        pg_engine: Engine) -> None:
    from sqlalchemy.exc import OperationalError

    over = {f"p{i}": i for i in range(65_536)}
    with pytest.raises(OperationalError, match="number of parameters must be between 0 and 65535"), \
            session_scope(pg_engine) as session:
        session.execute(text(f"SELECT 1 WHERE 1 IN ({', '.join(':' + p for p in over)})"), over)
    assert rows(pg_engine) == [(1, "one"), (2, "two")]


def test_ping_is_one_round_trip_or_the_stores_error(engine: Engine) -> None:
    assert ping(engine) == 1
    down = make_engine("postgresql://postgres:hunter2secret@127.0.0.1:1/test", check=False)
    with pytest.raises(StoreUnavailable, match="cannot connect to the database") as info:
        ping(down)
    assert "hunter2secret" not in str(info.value)

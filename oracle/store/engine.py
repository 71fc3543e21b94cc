"""Engine and sessions: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from oracle.errors import ConfigError, StoreUnavailable


def normalise_url(url: str, password: str | None = None) -> URL:
    """Parse a database URL; use psycopg 3 for PostgreSQL; add the password from the secrets."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise ConfigError(f"setting 'database_url' = {url!r}: not a database URL", key="database_url",
                          value=url) from err
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if password and parsed.password is None and parsed.drivername.startswith("postgresql"):
        parsed = parsed.set(password=password)
    if not parsed.drivername.startswith(("sqlite", "postgresql")):
        raise ConfigError(f"setting 'database_url': unsupported database {parsed.drivername!r}; "
                          "use sqlite:/// or postgresql://", key="database_url", value=url)
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, password: str | None = None, check: bool = True,
                **kwargs: Any) -> Engine:
    """Create an engine; with ``check``, connect once and say clearly if that fails."""
    parsed = normalise_url(url, password)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    if check:
        try:
            with engine.connect():
                pass
        except OperationalError as err:
            reason = str(err.orig).strip().splitlines()[0] if err.orig else str(err)
            raise StoreUnavailable(
                f"cannot connect to the database {parsed.render_as_string(hide_password=True)}: "
                f"{reason}") from err
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any error (nothing half-written)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

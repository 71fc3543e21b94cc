"""Engine and sessions: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (psycopg 3).

Database failures are translated where they enter our code, in the engine's ``handle_error``
hook, so every statement, commit and connect on an engine made here raises one of ours:
``StoreUnavailable`` (cannot connect, connection dropped or killed), ``StoreFull`` (disk or size
limit) or ``StoreReadOnly``, each with one clear line and the URL without its password (the daemon's
job recorder logs the change of state once, then "recovered"). Other errors (constraint
violations, a locked SQLite file) pass through for their callers to handle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.engine.interfaces import ExceptionContext
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session, create_engine

from oracle.errors import (
    ConfigError,
    OracleError,
    StoreFull,
    StoreReadOnly,
    StoreUnavailable,
)
from oracle.redact import redact

log = logging.getLogger("oracle.store")

# PostgreSQL SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_PG_FULL = {"53100"}  # disk_full
_PG_READ_ONLY = {"25006"}  # read_only_sql_transaction (also a hot standby)
_PG_UNAVAILABLE_CLASSES = ("08", "57", "53")  # connection, operator intervention, resources
_PG_NOT_OUTAGES = {"57014"}  # query_canceled (a statement timeout): the caller's to handle
# refused by libpq before sending, on a healthy connection: a bug of the statement, not an outage
_PG_NOT_SENT = ("number of parameters must be between",)
_SQLITE_UNAVAILABLE = ("SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PROTOCOL")
_SQLITE_NOT_A_DATABASE = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def normalise_url(url: str, password: str | None = None) -> URL:
    """Parse a database URL; use psycopg 3 for PostgreSQL; add the password from the secrets."""
    netloc = url.split("://", 1)[-1].split("/", 1)[0]
    if netloc.count("@") > 1:  # the driver would take part of the password for the host
        raise ConfigError(f"setting 'database_url' (--db-url) = {redact(repr(url))}: the user or "
                          "password holds an '@'; write it as %40", key="database_url",
                          value=redact(url))
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:
        reason = "the port is not a number" if "int()" in str(err) else "not a database URL"
        raise ConfigError(f"setting 'database_url' (--db-url) = {redact(repr(url))}: {reason}",
                          key="database_url", value=redact(url)) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if password and parsed.password is None and parsed.drivername.startswith("postgresql"):
        parsed = parsed.set(password=password)
    if not parsed.drivername.startswith(("sqlite", "postgresql")):
        raise ConfigError(f"setting 'database_url': unsupported database {parsed.drivername!r}; "
                          "use sqlite:/// or postgresql://", key="database_url", value=redact(url))
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _reason(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0].strip() if lines else type(err).__name__


def translate(err: BaseException, url: str, *, connecting: bool,
              disconnect: bool = False) -> OracleError | None:
    """Our error for a DBAPI error, or None for one its caller handles (constraint, lock)."""
    reason = _reason(err)
    sqlstate = getattr(err, "sqlstate", None)
    sqlite_name = getattr(err, "sqlite_errorname", None) or ""
    where = f"the database {url}"
    if sqlstate in _PG_FULL or sqlite_name == "SQLITE_FULL":
        return StoreFull(f"{where} is full ({reason}): the transaction was rolled back and "
                         "nothing was written; free disk space or raise the size limit, then "
                         "run again")
    if sqlstate in _PG_READ_ONLY or sqlite_name.startswith("SQLITE_READONLY"):
        return StoreReadOnly(f"{where} is read-only ({reason}): the transaction was rolled back "
                             "and nothing was written; make it writable, then run again")
    if sqlite_name.startswith(_SQLITE_NOT_A_DATABASE):
        return ConfigError(f"setting 'database_url': {url} is not a usable SQLite database "
                           f"({reason})", key="database_url", value=url)
    operational = type(err).__name__ == "OperationalError"
    if operational and sqlstate is None and any(text in reason for text in _PG_NOT_SENT):
        return None
    postgres_down = operational and hasattr(err, "sqlstate") and (
        sqlstate is None or (sqlstate.startswith(_PG_UNAVAILABLE_CLASSES)
                             and sqlstate not in _PG_NOT_OUTAGES))
    if disconnect or postgres_down or (connecting and operational) \
            or sqlite_name.startswith(_SQLITE_UNAVAILABLE):
        if connecting:
            return StoreUnavailable(f"cannot connect to {where}: {reason}")
        return StoreUnavailable(f"lost {where} ({reason}): the transaction was rolled back; "
                                "it is retried on the next run")
    return None


def _on_error(url: str) -> Any:
    def handle_error(context: ExceptionContext) -> None:
        if context.is_pre_ping:  # the pool reconnects by itself
            return
        mapped = translate(context.original_exception, url,
                           connecting=context.connection is None,
                           disconnect=context.is_disconnect)
        if mapped is not None:
            raise mapped from context.original_exception

    return handle_error


def make_engine(url: str, *, password: str | None = None, check: bool = True,
                **kwargs: Any) -> Engine:
    """Create an engine; with ``check``, connect once and say clearly if that fails."""
    parsed = normalise_url(url, password)
    shown = redact(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith(
                "file:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(parsed, pool_pre_ping=True, **kwargs)
    event.listen(engine, "handle_error", _on_error(shown))
    if check:
        with engine.connect():
            pass
    return engine


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction: committed on success, rolled back whole on any error (nothing
    half-written); a dropped connection takes its transaction with it."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            try:
                session.rollback()
            except OracleError:  # the connection is gone, and with it the transaction
                log.debug("rollback after a lost connection", exc_info=True)
            raise


def ping(engine: Engine) -> Any:
    """One round trip to the database (``SELECT 1``): its value, or the store's error."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1")).scalar_one()

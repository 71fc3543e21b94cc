"""Open the configured database: the one entry point the light CLI commands use.

Kept apart from `oracle.app` (which builds the whole daemon and imports pandas, FastAPI and
web3) so that `oracle audit verify` and `oracle db current` start fast.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from oracle.config import Secrets, Settings, load_secrets
from oracle.errors import SchemaOutdated
from oracle.store import migrate
from oracle.store.engine import make_engine


def open_store(settings: Settings, secrets: Secrets | None = None, *,
               require_schema: bool = True) -> Engine:
    """Connect to the configured database; by default refuse a schema behind the code.

    With ``require_schema`` a missing SQLite file is an error, never silently created (only
    `oracle db upgrade`, which passes ``require_schema=False``, creates one).
    """
    if require_schema:
        _require_sqlite_file(settings.database_url)
    secrets = secrets if secrets is not None else load_secrets(settings)
    password = secrets.database_password.get_secret_value() if secrets.database_password else None
    engine = make_engine(settings.database_url, password=password)
    if require_schema:
        migrate.check_schema(engine)
    return engine


def _require_sqlite_file(url: str) -> None:
    try:
        parsed = make_url(url)
    except Exception:  # make_engine reports a malformed URL clearly
        return
    database = parsed.database
    if (not parsed.drivername.startswith("sqlite") or not database
            or database == ":memory:" or database.startswith("file:")):
        return
    if not Path(database).exists():
        raise SchemaOutdated(
            f"no SQLite database at {database}: run `oracle db upgrade` to create it, or "
            "check database_url (--db-url)", key="database_url", value=database)

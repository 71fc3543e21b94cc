"""Open the configured database: the one entry point the light CLI commands use.

Kept apart from `oracle.app` (which builds the whole daemon and imports pandas, FastAPI and
web3) so that `oracle audit verify` and `oracle db current` start fast.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from oracle.config import Secrets, Settings, load_secrets
from oracle.store import migrate
from oracle.store.engine import make_engine


def open_store(settings: Settings, secrets: Secrets | None = None, *,
               require_schema: bool = True) -> Engine:
    """Connect to the configured database; by default refuse a schema behind the code."""
    secrets = secrets if secrets is not None else load_secrets(settings)
    password = secrets.database_password.get_secret_value() if secrets.database_password else None
    engine = make_engine(settings.database_url, password=password)
    if require_schema:
        migrate.check_schema(engine)
    return engine

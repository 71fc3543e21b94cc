"""Alembic, driven from code: upgrade, downgrade, current, and the start-up schema check."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Engine

from oracle.errors import ConfigError, SchemaOutdated
from oracle.shipped import resolve_data_dir

# ORACLE_MIGRATIONS_DIR, else the checkout's migrations/, else the installed wheel's copy.
MIGRATIONS_DIR = resolve_data_dir("ORACLE_MIGRATIONS_DIR", "migrations", "env.py")


def _config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS_DIR / "versions"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def _run(engine: Engine, action: str, revision: str) -> None:
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
        except CommandError as err:
            raise ConfigError(f"db {action} {revision}: {err}; known revisions: "
                              f"{', '.join(known_revisions())} (or base, head)",
                              key="revision", value=revision) from err


def known_revisions() -> list[str]:
    """Every revision under migrations/versions, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: the newest)."""
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``base`` removes everything)."""
    _run(engine, "downgrade", revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to run against a schema that is not at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = "empty" if current is None else f"at revision {current}"
        raise SchemaOutdated(
            f"the database schema is {where} but this code needs {head}: run `oracle db upgrade`",
            key="database_url", value=current)

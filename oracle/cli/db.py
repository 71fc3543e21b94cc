"""`oracle db`: Alembic migrations, the only way the schema is created or changed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.store import migrate
from oracle.store.connect import open_store

app = typer.Typer(help="Create and migrate the database schema (Alembic).", no_args_is_help=True)
console = Console()


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Upgrade the schema to REVISION (default: the newest)."""
    engine = open_store(settings_for(config, db_url), require_schema=False)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    console.print(f"schema {before or 'empty'} -> {migrate.current_revision(engine)}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base' for an empty schema.")],
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Take the schema back to REVISION."""
    engine = open_store(settings_for(config, db_url), require_schema=False)
    before = migrate.current_revision(engine)
    migrate.downgrade(engine, revision)
    console.print(f"schema {before or 'empty'} -> {migrate.current_revision(engine) or 'empty'}")


@app.command()
def current(config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Print the schema's revision and the code's head revision."""
    engine = open_store(settings_for(config, db_url), require_schema=False)
    now, head = migrate.current_revision(engine), migrate.head_revision()
    state = "up to date" if now == head else "behind: run `oracle db upgrade`"
    console.print(f"current {now or 'empty'}, head {head} ({state})")

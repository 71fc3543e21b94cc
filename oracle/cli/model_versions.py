"""`oracle model list / promote NAME VERSION / rollback NAME`: the model registry."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for


def _registry(config: ConfigOpt, db_url: DbUrlOpt):  # type: ignore[no-untyped-def]
    from oracle.app import open_store
    from oracle.lifecycle.registry import ModelRegistry

    settings = settings_for(config, db_url)
    return ModelRegistry(open_store(settings), settings.data_dir / "models")


def register(model_app: typer.Typer) -> None:
    """Add list, promote and rollback to the `oracle model` sub-app."""

    @model_app.command("list")
    def list_models(name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
                    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
                    config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
        """Registered model versions with stage, data window and backtest metrics."""
        rows = _registry(config, db_url).list(name)
        if as_json:
            for r in rows:
                typer.echo(json.dumps(r.model_dump(mode="json"), sort_keys=True))
            return
        table = Table("name", "version", "family", "stage", "data window", "metrics", "sha256")
        for r in rows:
            window = f"{r.data_start:%Y-%m-%d} .. {r.data_end:%Y-%m-%d}" if r.data_start and r.data_end else ""
            table.add_row(r.name, r.version, r.family, r.stage, window,
                          json.dumps(r.metrics, sort_keys=True)[:60], (r.artifact_sha256 or "")[:12])
        Console().print(table)

    @model_app.command("promote")
    def promote(name: str, version: str, config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
        """Make VERSION the champion of NAME (audited; the old champion is archived)."""
        registry = _registry(config, db_url)
        registry.load(name, version)  # refuse to promote a tampered artifact
        row = registry.promote(name, version, reason="operator", actor="cli")
        typer.echo(f"{row.name} version {row.version} is now the champion")

    @model_app.command("rollback")
    def rollback(name: str, config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
        """Restore the champion that the current champion of NAME replaced (audited)."""
        row = _registry(config, db_url).rollback(name, reason="operator", actor="cli")
        typer.echo(f"{row.name} rolled back to version {row.version}")

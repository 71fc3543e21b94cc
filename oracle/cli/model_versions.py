"""`oracle model list / promote NAME VERSION / rollback NAME`: the model registry."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.cli.output import Column, FormatOpt, LegacyJsonOpt, OutputFormat, emit, reject_legacy_json


def _registry(config: ConfigOpt, db_url: DbUrlOpt):  # type: ignore[no-untyped-def]
    from oracle.app import open_registry

    return open_registry(settings_for(config, db_url))


def _window(record: dict[str, Any]) -> str:
    start, end = record.get("data_start"), record.get("data_end")
    return f"{str(start)[:10]} .. {str(end)[:10]}" if start and end else ""


_MODEL_COLUMNS = [Column("name", "name"), Column("version", "version"),
                  Column("family", "family"), Column("stage", "stage"),
                  Column("data window", "", _window),
                  Column("metrics", "metrics", lambda v: json.dumps(v, sort_keys=True)[:60]),
                  Column("sha256", "artifact_sha256", lambda v: (v or "")[:12])]


def register(model_app: typer.Typer) -> None:
    """Add list, promote and rollback to the `oracle model` sub-app."""

    @model_app.command("list")
    def list_models(name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
                    fmt: FormatOpt = OutputFormat.table, legacy_json: LegacyJsonOpt = False,
                    config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
        """Registered model versions with stage, data window and backtest metrics."""
        reject_legacy_json(legacy_json)
        rows = _registry(config, db_url).list(name)
        records = [r.model_dump(mode="json") for r in rows]
        emit(records, fmt, _MODEL_COLUMNS)

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

"""A Typer group whose commands are imported only when one is run.

`oracle --help` and `oracle audit verify` must start in well under a second, so importing
`oracle.cli` must not import scikit-learn, pandas, web3 or FastAPI. Each top-level command
lives in its own module and is loaded by name on first use; the root help page lists the
commands from the short help recorded here (a test checks it matches the loaded command).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where one top-level command lives: module, attribute (a Typer app or a function)."""

    module: str
    attr: str
    help: str


# Order is the order `oracle --help` lists them in.
COMMANDS: dict[str, LazyCommand] = {
    "run": LazyCommand("oracle.cli.daemon", "run",
                       "The daemon: scheduled jobs in the foreground, JSON logs; SIGTERM "
                       "finishes the running job."),
    "demo": LazyCommand("oracle.cli.daemon", "demo",
                        "Embedded defaults: SQLite, in-process py-evm, reference backend on "
                        "real data; N ticks."),
    "serve": LazyCommand("oracle.cli.daemon", "serve",
                         "The read-only HTTP API alone on api.host:api.port: /healthz, "
                         "/readyz, /metrics and the model endpoints (each call in one of "
                         "api.workers worker processes, stopped past api.request_timeout_s "
                         "or when its client leaves)."),
    "ingest": LazyCommand("oracle.cli.ingest", "ingest",
                          "Run one ingestion pass and print what it stored."),
    "train": LazyCommand("oracle.cli.training", "train",
                         "Tune (Optuna) and train a forecaster on the stored readings; "
                         "register it; record the run."),
    "evaluate": LazyCommand("oracle.cli.training", "evaluate",
                            "Score stored forecasts against actuals and write the HTML report "
                            "with plots."),
    "db": LazyCommand("oracle.cli.db", "app",
                      "Create and migrate the database schema (Alembic)."),
    "audit": LazyCommand("oracle.cli.audit", "app",
                         "Query and verify the tamper-evident audit log."),
    "keys": LazyCommand("oracle.cli.keys", "app",
                        "Create, import and inspect the oracle's encrypted signing key."),
    "contracts": LazyCommand("oracle.cli.contracts", "app",
                             "Deploy the oracle's contracts and list their addresses."),
    "backend": LazyCommand("oracle.cli.backend", "app",
                           "The reference SolChain backend, serving replayed real data."),
    "model": LazyCommand("oracle.cli.model", "app",
                         "Run one model on files (CSV or JSON), and manage the model "
                         "registry."),
}


def load_command(name: str) -> Any:
    """Import the module behind `name` and build its click command."""
    spec = COMMANDS[name]
    obj: Any = getattr(importlib.import_module(spec.module), spec.attr)
    if isinstance(obj, typer.Typer):  # a group, even with one command (as add_typer makes it)
        parent = typer.Typer(add_completion=False)
        parent.add_typer(obj, name=name)
        root = typer.main.get_command(parent)
        assert isinstance(root, TyperGroup)
        command = root.commands[name]
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(obj)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: lists every command without importing it; imports one to run it."""

    _listing = False

    # typer 0.29 vendors click (typer._click); its Command and HelpFormatter types are
    # private, so the signatures below say Any where they would name them.
    def list_commands(self, ctx: Any) -> list[str]:
        eager = super().list_commands(ctx)
        return [*COMMANDS, *(n for n in eager if n not in COMMANDS)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        if self._listing:  # the root help page: a name and a line, nothing imported
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)
        command = load_command(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

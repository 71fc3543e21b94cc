"""`oracle model`: each model family on files, without the daemon; and the model registry."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(help="Run one model on files (CSV or JSON), and manage the model registry.",
                  no_args_is_help=True)

# Each family registers its own command on this sub-app (oracle/cli/model_<family>.py).
FAMILIES = ("model_forecasting", "model_pricing", "model_anomaly", "model_optimization",
            "model_versions")
for _name in FAMILIES:
    importlib.import_module(f"oracle.cli.{_name}").register(app)

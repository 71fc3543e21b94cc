"""`oracle train` (tune and train with progress bars) and `oracle evaluate` (report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for


def train(model: Annotated[str, typer.Option("--model", help="Forecaster to tune: gbm, lstm, "
                                              "transformer, seasonal_naive.")] = "gbm",
          name: Annotated[str, typer.Option(help="Registry name.")] = "demand",
          budget: Annotated[float, typer.Option(min=1, help="Search time budget (seconds).")] = 120,
          trials: Annotated[int, typer.Option(min=1, help="At most this many trials.")] = 30,
          promote: Annotated[bool, typer.Option(help="Promote the trained version.")] = False,
          config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Tune (Optuna) and train a forecaster on the stored readings; register it; record the run.

    Trains on the zone's hourly demand since the last gap longer than 6 h (shorter gaps are
    interpolated) and needs at least a week and two hours of it plus the 24 h held out to
    score (194 h); with less it says so in one line and exits 2.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from oracle.app import open_registry
    from oracle.lifecycle.training import train_forecaster, zone_demand

    registry = open_registry(settings_for(config, db_url))
    engine = registry.engine
    y = zone_demand(engine)
    typer.echo(f"zone demand: {len(y)} hours, {y.index[0]:%Y-%m-%d %H:%M} to "
               f"{y.index[-1]:%Y-%m-%d %H:%M} UTC")
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn()) as progress:
        result = train_forecaster(engine, registry, y, model=model, name=name, budget_s=budget,
                                  n_trials=trials, progress=progress)
    typer.echo(f"{name} version {result.version.version}: {model} MAE {result.score:.4g} over "
               f"{result.trials} trials, params {result.params}")
    if promote:
        registry.promote(name, result.version.version, reason="oracle train --promote", actor="cli")
        typer.echo(f"{name} version {result.version.version} is now the champion")


def evaluate(report: Annotated[Path, typer.Option("--report", help="Directory for index.html.")]
             = Path("var/report"), config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Score stored forecasts against actuals and write the HTML report with plots."""
    from oracle.app import open_store
    from oracle.lifecycle.evaluation import gather
    from oracle.lifecycle.html_report import render_report

    engine = open_store(settings_for(config, db_url))
    data = gather(engine)
    path = render_report(data, report)
    metrics = data.tables.get("Forecast metrics by model")
    if metrics is not None:
        typer.echo(metrics.to_string(float_format=lambda v: f"{v:.4g}"))
    else:
        typer.echo("no stored forecast has an observed hour yet: nothing scored")
    if data.live is not None:
        typer.echo("live calibration (one-step forecasts, past 2 days):")
        typer.echo(data.live.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    typer.echo(f"report written to {path}")

"""`oracle model detect`: the anomaly detector on files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from models.anomaly import AnomalyDetector
from oracle.cli._common import (
    ConfigOpt,
    InputOpt,
    OutputOpt,
    check_output,
    read_table,
    settings_for,
    write_output,
)
from oracle.config import ApiSettings
from oracle.limits import Limits, check_at_most
from oracle.model_errors import model_errors

REQUIRED = ["meter_id", "ts", "consumption_kwh", "production_kwh"]
HistoryOpt = Annotated[
    Path | None,
    typer.Option("--history", help="Readings to learn normal behaviour from (.csv/.json); "
                                    "default: the input itself."),
]


def detect_file(input_path: Path, output: Path, history: Path | None = None,
                limits: Limits | None = None) -> int:
    """Fit on history (or the input), detect on the input, write anomalies; returns the count."""
    limits = limits or ApiSettings()
    check_output(output)
    frame = read_table(input_path, required=REQUIRED)
    past = read_table(history, required=REQUIRED) if history is not None else frame
    for path, rows in ((input_path, frame), (history or input_path, past)):
        check_at_most(str(path), len(rows), limits.max_points, "max_points", "rows")
    with model_errors():
        found = AnomalyDetector().fit(past).detect(frame)
    found["ts"] = found["ts"].map(lambda t: t.isoformat())
    write_output(found, output)
    return len(found)


def register(app: typer.Typer) -> None:
    """Add `detect` to the `model` sub-app."""

    @app.command("detect")
    def detect(input: InputOpt, output: OutputOpt, history: HistoryOpt = None,
               config: ConfigOpt = None) -> None:
        """Detect and type anomalies in meter readings (meter_id, ts, consumption_kwh,
        production_kwh[, ghi_wm2 | expected_production_kwh])."""
        n = detect_file(input, output, history, settings_for(config).api)
        typer.echo(f"{n} anomalies written to {output}")

"""`oracle model detect` on files, through a Typer app it registers into."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from pmdarima.datasets import load_taylor
from typer.testing import CliRunner

from models.anomaly.inject import meters_from_load
from oracle.cli.model_anomaly import register
from oracle.errors import SourceDataInvalid


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:
        """Keeps Typer from collapsing the single command into the root."""

    return app


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("detect")
    frame = meters_from_load(load_taylor(), n_meters=3, weeks=2, seed=0)
    since = frame["ts"].min() + pd.Timedelta(weeks=1)
    test = frame[frame["ts"] >= since].reset_index(drop=True)
    test.loc[40, "consumption_kwh"] *= 6
    frame[frame["ts"] < since].to_csv(d / "history.csv", index=False)
    test.to_csv(d / "readings.csv", index=False)
    return d / "history.csv", d / "readings.csv"


def test_detect_writes_anomalies(app: typer.Typer, files, tmp_path: Path) -> None:
    history, readings = files
    out = tmp_path / "anomalies.csv"
    result = CliRunner().invoke(app, ["detect", "--input", str(readings), "--output", str(out),
                                      "--history", str(history)])
    assert result.exit_code == 0, result.output
    found = pd.read_csv(out)
    assert {"meter_id", "ts", "type", "severity", "recommended_action"} <= set(found.columns)
    spike_ts = pd.read_csv(readings).loc[40, "ts"]
    assert "consumption_spike" in set(found.loc[pd.to_datetime(found["ts"], format="ISO8601")
                                                == pd.Timestamp(spike_ts), "type"])


def test_bad_input_becomes_source_data_invalid(app: typer.Typer, files, tmp_path: Path) -> None:
    history, _ = files
    short = tmp_path / "short.csv"
    pd.read_csv(history).head(10).to_csv(short, index=False)
    result = CliRunner().invoke(app, ["detect", "--input", str(short), "--output",
                                      str(tmp_path / "o.csv")])
    assert isinstance(result.exception, SourceDataInvalid)
    assert "min_history" in str(result.exception)

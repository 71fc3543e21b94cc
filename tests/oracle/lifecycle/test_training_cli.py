"""`oracle train`, `oracle evaluate` and `oracle model list/promote/rollback` on a small store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from sqlmodel import Session, select
from typer.testing import CliRunner

from oracle.cli import model_versions
from oracle.cli.training import evaluate, train
from oracle.lifecycle.registry import ModelRegistry
from oracle.lifecycle.training import tune
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.tables import ModelRun, Reading

T0 = pd.Timestamp("2024-02-05T00:00:00Z")


def hourly(days: int) -> pd.Series:
    index = pd.date_range(T0, periods=24 * days, freq="h")
    rng = np.random.default_rng(3)
    return pd.Series(20 + 8 * np.sin(2 * np.pi * index.hour / 24) + rng.normal(0, 0.5, len(index)),
                     index=index)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[typer.Typer, str]:
    url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        for ts, value in hourly(10).items():
            s.add(Reading(meter_id="m1", ts=ts.to_pydatetime(), consumption_kwh=float(value)))
    monkeypatch.setenv("ORACLE_DATA_DIR", str(tmp_path / "var"))
    app = typer.Typer()
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    model_app = typer.Typer()
    model_versions.register(model_app)
    app.add_typer(model_app, name="model")
    return app, url


def test_train_list_promote_rollback_evaluate(cli: tuple[typer.Typer, str], tmp_path: Path) -> None:
    app, url = cli
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["train", "--model", "seasonal_naive", "--trials", "2",
                                     "--budget", "30", "--promote", "--db-url", url])
        assert result.exit_code == 0, result.output
        assert "is now the champion" in result.output
    listed = runner.invoke(app, ["model", "list", "--format", "jsonl", "--db-url", url])
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["version"], r["stage"]) for r in rows] == [("2", "champion"), ("1", "archived")]
    assert rows[0]["params"]["model"] == "seasonal_naive" and rows[0]["metrics"]["trials"] == 2

    back = runner.invoke(app, ["model", "rollback", "demand", "--db-url", url])
    assert back.exit_code == 0 and "rolled back to version 1" in back.output
    again = runner.invoke(app, ["model", "promote", "demand", "2", "--db-url", url])
    assert again.exit_code == 0, again.output
    unknown = runner.invoke(app, ["model", "promote", "demand", "7", "--db-url", url])
    assert unknown.exit_code != 0 and "no version '7'" in str(unknown.exception)

    engine = make_engine(url)
    with Session(engine) as session:
        runs = session.exec(select(ModelRun).where(ModelRun.purpose == "train")).all()
    assert [r.status for r in runs] == ["ok", "ok"] and runs[0].metrics["mae"] > 0
    # The registered champion is what /forecast/demand serves: a Forecaster with intervals.
    champion = ModelRegistry(engine, tmp_path / "var" / "models").load("demand", "2").model
    frame = champion.predict(12, level=(80, 95))
    assert list(frame.columns) == ["mean", "lo_80", "hi_80", "lo_95", "hi_95"] and len(frame) == 12

    out = tmp_path / "report"
    report = runner.invoke(app, ["evaluate", "--report", str(out), "--db-url", url])
    assert report.exit_code == 0, report.output
    assert "nothing scored" in report.output  # readings and models, but no forecast stored
    assert "Model registry" in (out / "index.html").read_text()


def test_tune_gbm_within_budget() -> None:
    params, best, trials = tune("gbm", hourly(21), window=24, budget_s=30, n_trials=2)
    assert trials == 2 and set(params) == {"learning_rate", "max_leaf_nodes",
                                           "min_samples_leaf", "max_iter"}
    assert 0 < best < 5  # noise sd 0.5 around a clean daily cycle

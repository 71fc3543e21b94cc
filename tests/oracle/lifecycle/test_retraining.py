"""Champion/challenger: a challenger trained on drifted data wins and is promoted; one trained
on faulty data loses and is not; both decisions audited with both scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.forecasting.naive import SeasonalNaive
from oracle.errors import SourceDataInvalid
from oracle.lifecycle.registry import ModelRegistry
from oracle.lifecycle.retraining import RetrainPolicy, champion_challenger
from oracle.store.audit import AuditLog
from oracle.store.tables import ModelRun

DAY = 24


def demand(days: int, level: float = 50.0, seed: int = 0) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=days * DAY, freq="h", tz="UTC")
    rng = np.random.default_rng(seed)
    values = level + 15 * np.sin(2 * np.pi * index.hour / 24) + rng.normal(0, 1, len(index))
    return pd.Series(values, index=index)


def daily_naive(y: pd.Series) -> SeasonalNaive:
    return SeasonalNaive(season=DAY).fit(y.asfreq("h"))


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> ModelRegistry:
    reg = ModelRegistry(engine, tmp_path / "models")
    before = demand(10)
    champion = reg.register("demand", "forecasting", daily_naive(before),
                            data_start=before.index[0].to_pydatetime(),
                            data_end=before.index[-1].to_pydatetime())
    reg.promote("demand", champion.version)
    return reg


def retrain_entries(engine: Engine) -> list[dict]:
    return [json.loads(e.payload) for e in AuditLog(engine).list(kind="model.retrain")]


def test_challenger_on_drifted_data_wins_and_is_promoted(registry: ModelRegistry,
                                                         engine: Engine) -> None:
    data = demand(14)
    drifted = data.copy()
    drifted.iloc[-4 * DAY:] += 30.0  # the level shifts four days before the end
    decision = champion_challenger(registry, "demand", drifted, daily_naive,
                                   policy=RetrainPolicy(window=DAY, margin=0.05), trigger="drift")
    assert decision.promoted and decision.champion_version == "1"
    assert decision.challenger_score < 0.5 * (decision.champion_score or 0)
    assert registry.champion("demand").version == decision.challenger_version == "2"
    [entry] = retrain_entries(engine)
    assert entry["promoted"] is True and entry["trigger"] == "drift"
    assert entry["champion_score"] == pytest.approx(decision.champion_score)
    assert entry["challenger_score"] == pytest.approx(decision.challenger_score)
    promote = json.loads(AuditLog(engine).list(kind="model.promote")[-1].payload)
    assert promote["version"] == "2" and promote["previous"] == "1"
    with Session(engine) as session:
        run = session.exec(select(ModelRun).where(ModelRun.purpose == "retrain")).one()
    assert run.version == "2" and run.metrics["promoted"] is True


def test_challenger_on_faulty_data_loses_and_is_not_promoted(registry: ModelRegistry,
                                                             engine: Engine) -> None:
    data = demand(14)
    faulty = data.copy()
    faulty.iloc[-2 * DAY:-DAY] = 0.0  # a meter outage the day before the scoring window
    decision = champion_challenger(registry, "demand", faulty, daily_naive,
                                   policy=RetrainPolicy(window=DAY, margin=0.05))
    assert not decision.promoted
    assert decision.challenger_score > decision.champion_score  # type: ignore[operator]
    assert registry.champion("demand").version == "1"
    stages = {r.version: r.stage for r in registry.list("demand")}
    assert stages == {"1": "champion", "2": "candidate"}
    [entry] = retrain_entries(engine)
    assert entry["promoted"] is False and "not 5% better" in entry["reason"]
    assert entry["champion_score"] is not None and entry["challenger_score"] is not None
    assert AuditLog(engine).verify().ok


def test_margin_blocks_a_marginal_improvement(registry: ModelRegistry, engine: Engine) -> None:
    data = demand(14)
    decision = champion_challenger(registry, "demand", data, daily_naive,
                                   policy=RetrainPolicy(window=DAY, margin=0.9))
    assert not decision.promoted and registry.champion("demand").version == "1"


def test_too_little_data_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(SourceDataInvalid, match="needs more than 48 values"):
        champion_challenger(registry, "demand", demand(2), daily_naive,
                            policy=RetrainPolicy(window=DAY))

"""The model rows repository on SQLite and PostgreSQL: versions by name and stage, runs newest
first, and a taken (name, version) refused on commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from oracle.store import model_rows
from oracle.store.engine import session_scope
from oracle.store.tables import ModelRun, ModelVersion

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _version(name: str, version: str, stage: str = "candidate") -> ModelVersion:
    return ModelVersion(name=name, version=version, family="forecasting", params={"k": 1},
                        metrics={"mae": 0.5}, artifact_path=f"{name}/{version}.model",
                        artifact_sha256="ab" * 32, stage=stage)


def _fill(engine: Engine) -> None:
    with session_scope(engine) as session:
        for row in (_version("gbm", "1", "archived"), _version("gbm", "2", "champion"),
                    _version("gbm", "10"), _version("arima", "1")):
            model_rows.add_version(session, row)


def test_versions_are_read_by_name_version_and_stage(engine: Engine) -> None:
    _fill(engine)
    with session_scope(engine) as session:
        assert sorted(model_rows.version_labels(session, "gbm")) == ["1", "10", "2"]
        assert model_rows.version_labels(session, "nope") == []
        assert model_rows.has_model(session, "arima") and not model_rows.has_model(session, "x")
        assert model_rows.model_names(session) == ["arima", "gbm"]
        champion = model_rows.champion_row(session, "gbm")
        assert champion is not None and champion.version == "2"
        assert model_rows.champion_row(session, "arima") is None
        row = model_rows.version_row(session, "gbm", "10")
        assert row is not None and (row.stage, row.metrics) == ("candidate", {"mae": 0.5})
        assert model_rows.version_row(session, "gbm", "3") is None
        assert {(r.name, r.version) for r in model_rows.versions(session)} == {
            ("gbm", "1"), ("gbm", "2"), ("gbm", "10"), ("arima", "1")}
        assert [r.version for r in model_rows.versions(session, "arima")] == ["1"]


def test_a_stage_change_is_committed_with_its_transaction(engine: Engine) -> None:
    _fill(engine)
    with session_scope(engine) as session:
        old = model_rows.champion_row(session, "gbm")
        new = model_rows.version_row(session, "gbm", "10")
        assert old is not None and new is not None
        model_rows.set_stage(session, old, "archived")
        model_rows.set_stage(session, new, "champion")
    with pytest.raises(RuntimeError), session_scope(engine) as session:  # rolled back whole
        row = model_rows.version_row(session, "arima", "1")
        assert row is not None
        model_rows.set_stage(session, row, "champion")
        raise RuntimeError("abort")
    with session_scope(engine) as session:
        champion = model_rows.champion_row(session, "gbm")
        assert champion is not None and champion.version == "10"
        assert {r.version: r.stage for r in model_rows.versions(session, "gbm")} == {
            "1": "archived", "2": "archived", "10": "champion"}
        assert model_rows.champion_row(session, "arima") is None


def test_a_taken_version_is_refused(engine: Engine) -> None:
    _fill(engine)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        model_rows.add_version(session, _version("gbm", "2"))
    with session_scope(engine) as session:
        assert len(model_rows.versions(session, "gbm")) == 3


def test_recent_runs_are_newest_first_and_limited(engine: Engine) -> None:
    with session_scope(engine) as session:
        for i in range(5):
            model_rows.add_run(session, ModelRun(
                model="gbm", version=str(i), purpose="train", params={}, metrics={"i": i},
                status="failed" if i == 3 else "ok", error="boom" if i == 3 else None,
                started_at=T0 + timedelta(hours=i)))
    with session_scope(engine) as session:
        runs = model_rows.recent_runs(session, limit=3)
        assert [r.version for r in runs] == ["4", "3", "2"]
        assert (runs[1].status, runs[1].error) == ("failed", "boom")
        assert len(model_rows.recent_runs(session)) == 5

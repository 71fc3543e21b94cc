"""The model registry: versions, SHA-256-verified artifacts, promotion and rollback, audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from oracle.errors import SourceDataInvalid
from oracle.lifecycle.registry import ArtifactTampered, ModelRegistry, UnknownModel
from oracle.store.audit import AuditLog


class Scale:
    """A tiny picklable 'model' with learned state."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, x: float) -> float:
        return self.factor * x


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(engine, tmp_path / "models")


def test_register_assigns_versions_and_round_trips(registry: ModelRegistry) -> None:
    first = registry.register("demand", "forecasting", Scale(2.0), params={"max_horizon": 24},
                              metrics={"mae": 1.5})
    second = registry.register("demand", "forecasting", Scale(3.0))
    assert (first.version, second.version) == ("1", "2")
    assert first.stage == "candidate" and len(first.artifact_sha256 or "") == 64
    loaded = registry.load("demand", "1")
    assert loaded.model.predict(2.0) == 4.0
    assert loaded.record.params == {"max_horizon": 24} and loaded.record.metrics == {"mae": 1.5}
    assert [r.version for r in registry.list("demand")] == ["2", "1"]


def test_tampered_artifact_refuses_to_load(registry: ModelRegistry) -> None:
    row = registry.register("demand", "forecasting", Scale(2.0))
    path = registry.artifact_dir / str(row.artifact_path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactTampered, match=r"SHA-256.*refusing to load"):
        registry.load("demand", "1")
    path.unlink()
    with pytest.raises(ArtifactTampered, match="cannot read artifact"):
        registry.load("demand", "1")


def test_unknown_names_and_versions_name_the_field(registry: ModelRegistry) -> None:
    registry.register("demand", "forecasting", Scale(1.0))
    with pytest.raises(UnknownModel, match="unknown model 'solar'") as err:
        registry.get("solar", "1")
    assert err.value.field == "model"
    with pytest.raises(UnknownModel, match="no version '9'") as err:
        registry.get("demand", "9")
    assert err.value.field == "version"
    with pytest.raises(UnknownModel, match="no champion") as err:
        registry.load("demand")
    assert err.value.field == "version"
    with pytest.raises(UnknownModel):
        registry.promote("demand", "7")
    with pytest.raises(SourceDataInvalid, match="model name"):
        registry.register("../evil", "forecasting", Scale(1.0))


def test_promote_and_rollback_are_audited(registry: ModelRegistry, engine: Engine) -> None:
    for factor in (1.0, 2.0, 3.0):
        registry.register("demand", "forecasting", Scale(factor))
    registry.promote("demand", "1")
    registry.promote("demand", "2", reason="better", scores={"champion": 2.0, "challenger": 1.0})
    registry.promote("demand", "3")
    assert registry.load("demand").model.factor == 3.0
    stages = {r.version: r.stage for r in registry.list("demand")}
    assert stages == {"1": "archived", "2": "archived", "3": "champion"}

    assert registry.rollback("demand").version == "2"
    assert registry.rollback("demand").version == "1"
    with pytest.raises(UnknownModel, match="nothing to roll back"):
        registry.rollback("demand")
    assert registry.load("demand").model.factor == 1.0

    log = AuditLog(engine)
    kinds = [e.kind for e in log.list(kind=None)]
    assert kinds.count("model.register") == 3
    assert kinds.count("model.promote") == 3 and kinds.count("model.rollback") == 2
    promote = [json.loads(e.payload) for e in log.list() if e.kind == "model.promote"][1]
    assert promote["previous"] == "1" and promote["scores"] == {"champion": 2.0, "challenger": 1.0}
    assert log.verify().ok

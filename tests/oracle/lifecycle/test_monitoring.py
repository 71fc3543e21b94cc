"""Monitoring: PSI/KS drift per feature and degradation against the champion's baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from oracle.lifecycle.monitoring import Monitor, drift, psi
from oracle.lifecycle.registry import ModelRegistry
from oracle.store.audit import AuditLog
from oracle.telemetry import Metrics


def features(n: int, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"temperature": rng.normal(15 + shift, 5, n),
                         "demand": rng.gamma(4, 2, n), "hour": np.arange(n) % 24})


def test_psi_is_zero_for_the_same_sample_and_grows_with_shift() -> None:
    ref = np.random.default_rng(1).normal(0, 1, 5000)
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-9)
    small, large = psi(ref, ref + 0.1), psi(ref, ref + 1.0)
    assert 0 < small < 0.1 < 0.2 < large


def test_drift_flags_only_the_shifted_feature() -> None:
    table = drift(features(2000), features(2000, shift=6.0, seed=1))
    assert list(table.index[table["drifted"]]) == ["temperature"]
    assert table.loc["demand", "psi"] < 0.1 and table.loc["temperature", "ks_pvalue"] < 1e-6


def test_alerts_go_to_the_audit_log_and_metrics(engine: Engine, tmp_path: Path) -> None:
    registry = ModelRegistry(engine, tmp_path / "models")
    registry.register("demand", "forecasting", {"kind": "model"}, metrics={"mae": 2.0})
    registry.promote("demand", "1")
    metrics = Metrics()
    monitor = Monitor(engine, registry, metrics)
    assert monitor.check("demand", live_error=2.5, reference=features(1000),
                         current=features(1000, seed=2)) == []
    alerts = monitor.check("demand", live_error=4.0, reference=features(1000),
                           current=features(1000, shift=8.0, seed=3))
    assert sorted(a.kind for a in alerts) == ["degradation", "drift"]
    entries = [json.loads(e.payload) for e in AuditLog(engine).list(kind="monitor.alert")]
    assert {e["kind"] for e in entries} == {"degradation", "drift"}
    degradation = next(e for e in entries if e["kind"] == "degradation")
    assert degradation["value"] == 4.0 and degradation["threshold"] == 3.0
    assert metrics.alerts.labels(kind="drift")._value.get() == 1
    assert metrics.alerts.labels(kind="degradation")._value.get() == 1

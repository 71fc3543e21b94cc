"""Operator-relevant changes are logged once when they happen: leader/standby, a new champion,
a rollback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from oracle.lifecycle.registry import ModelRegistry
from oracle.scheduler import Daemon, JobRecorder, JobSpec
from oracle.store.engine import make_engine
from oracle.store.leader import LeaderLock
from oracle.store.migrate import upgrade


class Factor:
    def __init__(self, k: float) -> None:
        self.k = k


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    eng = make_engine(f"sqlite:///{tmp_path}/o.db")
    upgrade(eng)
    yield eng
    eng.dispose()


def _messages(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def test_leader_and_standby_are_logged_once_per_change(engine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oracle.scheduler")
    spec = JobSpec("submit", 60, lambda: None)
    first = Daemon([spec], JobRecorder(engine, _metrics()), LeaderLock(engine, tmp_path / "l"))
    second = Daemon([spec], JobRecorder(engine, _metrics()), LeaderLock(engine, tmp_path / "l"))
    for _ in range(3):
        first._guarded(spec)
        second._guarded(spec)
    said = _messages(caplog, "oracle.scheduler")
    assert sum("now the leader" in m for m in said) == 1
    assert sum(m.startswith("standby") for m in said) == 1
    first.leader.release()  # the leader dies: the standby takes over, said once
    for _ in range(2):
        second._guarded(spec)
    said = _messages(caplog, "oracle.scheduler")
    assert sum("took over from the previous leader" in m for m in said) == 1
    second.leader.release()


def test_a_new_champion_and_a_rollback_are_logged(engine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="oracle.registry")
    registry = ModelRegistry(engine, tmp_path / "models")
    registry.register("demand", "forecasting", Factor(1.0))
    registry.register("demand", "forecasting", Factor(2.0))
    registry.promote("demand", "1", reason="first")
    registry.promote("demand", "1", reason="again")  # no change: nothing said
    registry.promote("demand", "2", reason="better")
    registry.rollback("demand", reason="operator")
    assert _messages(caplog, "oracle.registry") == [
        "model demand version 1 is now the champion (was none; reason: first)",
        "model demand version 2 is now the champion (was 1; reason: better)",
        "model demand rolled back from version 2 to 1 (reason: operator)",
    ]


def _metrics():  # type: ignore[no-untyped-def]
    from oracle.telemetry import Metrics

    return Metrics()

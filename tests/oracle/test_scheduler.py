from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from oracle.errors import ModelError, SourceUnavailable
from oracle.scheduler import Daemon, JobRecorder, JobSpec
from oracle.store.audit import AuditLog
from oracle.store.engine import session_scope
from oracle.store.leader import LeaderLock
from oracle.store.tables import JobRun
from oracle.telemetry import Metrics


def _runs(engine: Engine) -> list[tuple[str, str]]:
    from sqlmodel import select

    with session_scope(engine) as session:
        return [(r.job, r.outcome) for r in session.exec(select(JobRun).order_by(JobRun.id))]


def test_recorder_records_outcomes_and_logs_only_on_change(engine: Engine,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    recorder = JobRecorder(engine, Metrics())
    calls = iter([SourceUnavailable("backend down"), SourceUnavailable("backend down"), None,
                  ModelError("diverged"), RuntimeError("bug")])

    def job() -> None:
        err = next(calls)
        if err is not None:
            raise err

    spec = JobSpec("tick", 1, job)
    with caplog.at_level(logging.INFO, logger="oracle.scheduler"):
        for _ in range(5):
            recorder(spec)  # never raises: the daemon keeps running
    assert _runs(engine) == [("tick", "retry"), ("tick", "retry"), ("tick", "ok"),
                             ("tick", "skipped"), ("tick", "failed")]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("retry" in m for m in messages) == 1  # logged once, not on every failure
    assert any("recovered" in m for m in messages)
    log = AuditLog(engine)
    assert [e.kind for e in log.list()] == ["job.run"] * 5 and log.verify().ok


def test_daemon_runs_jobs_and_sigterm_lets_the_running_job_finish(engine: Engine,
                                                                  tmp_path: Path) -> None:
    started, finished = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(1.0)
        finished.set()

    daemon = Daemon([JobSpec("slow", 60, slow)], JobRecorder(engine, Metrics()),
                    LeaderLock(engine, tmp_path))
    runner = threading.Thread(target=daemon.run_forever, kwargs={"install_signals": False})
    runner.start()
    try:
        assert started.wait(30)
    finally:
        daemon.stop_event.set()  # what the SIGTERM handler does
        runner.join(30)
    assert not runner.is_alive() and finished.is_set()
    assert _runs(engine) == [("slow", "ok")]


def test_standby_does_not_run_jobs(engine: Engine, tmp_path: Path) -> None:
    leader = LeaderLock(engine, tmp_path)
    assert leader.try_acquire()
    ran = threading.Event()
    standby = Daemon([JobSpec("tick", 60, ran.set)], JobRecorder(engine, Metrics()),
                     LeaderLock(engine, tmp_path))
    assert standby._guarded(standby.jobs[0]) is None and not ran.is_set()
    leader.release()
    standby._guarded(standby.jobs[0])
    assert ran.is_set()
    assert standby.leader.held
    standby.leader.release()


def test_a_store_outage_is_logged_once_then_recovered(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A job whose database refuses writes is a retry, logged once (no traceback on every run,
    even though its run cannot be recorded either), then "recovered" when the store is back."""
    from sqlalchemy import text

    from oracle.store.engine import make_engine
    from oracle.store.migrate import upgrade

    path = tmp_path / "oracle.db"
    upgrade(make_engine(f"sqlite:///{path}"))
    writable = make_engine(f"sqlite:///{path}")
    with session_scope(writable) as session:
        session.execute(text("CREATE TABLE probe (x INTEGER)"))
    read_only = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    target = {"engine": read_only}

    def tick() -> None:
        with session_scope(target["engine"]) as session:
            session.execute(text("INSERT INTO probe VALUES (1)"))

    recorder = JobRecorder(read_only, Metrics())
    with caplog.at_level(logging.DEBUG, logger="oracle"):
        for _ in range(3):
            recorder(JobSpec("tick", 1, tick))
        recorder.engine = target["engine"] = writable
        recorder(JobSpec("tick", 1, tick))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "StoreReadOnly" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert any("job tick recovered" in r.getMessage() for r in caplog.records)
    assert _runs(writable) == [("tick", "ok")]  # the refused runs could not be recorded

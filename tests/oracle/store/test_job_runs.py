"""The job runs repository on SQLite and PostgreSQL: a run is written with its transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from oracle.store.engine import session_scope
from oracle.store.job_runs import add_job_run
from oracle.store.tables import JobRun

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _run(job: str, outcome: str, error: str | None = None) -> JobRun:
    return JobRun(job=job, started_at=T0, finished_at=T0 + timedelta(seconds=2),
                  outcome=outcome, duration_s=2.0, error=error)


def test_a_job_run_is_recorded_with_the_callers_transaction(engine: Engine) -> None:
    with session_scope(engine) as session:
        add_job_run(session, _run("tick", "ok"))
        add_job_run(session, _run("submit", "retry", "RpcUnavailable: down"))
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        add_job_run(session, _run("tick", "failed"))
        raise RuntimeError("the audit append failed after it")
    with session_scope(engine) as session:
        rows = session.exec(select(JobRun).order_by(col(JobRun.id))).all()
    assert [(r.job, r.outcome, r.error, r.duration_s) for r in rows] == [
        ("tick", "ok", None, 2.0), ("submit", "retry", "RpcUnavailable: down", 2.0)]

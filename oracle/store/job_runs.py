"""Job runs: the scheduler's record of every job execution (``job_runs``)."""

from __future__ import annotations

from sqlmodel import Session

from oracle.store.tables import JobRun


def add_job_run(session: Session, run: JobRun) -> None:
    """Record one job execution in the caller's transaction."""
    session.add(run)

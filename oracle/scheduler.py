"""APScheduler 3 wiring: one interval job per daemon job, at most one instance each, coalesced,
with a misfire grace; every run recorded in the store (``job_runs``) and the audit log; logs only
on a change of state (first failure, then "recovered"); SIGTERM/SIGINT let the running job
finish, then the process exits cleanly. Only the leader runs jobs; a standby keeps trying.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from oracle.errors import DataError, OracleError, RetryableError
from oracle.redact import redact
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.job_runs import add_job_run
from oracle.store.leader import LeaderLock
from oracle.store.tables import JobRun
from oracle.telemetry import Metrics

log = logging.getLogger("oracle.scheduler")


@dataclass(frozen=True)
class JobSpec:
    name: str
    every_s: float
    run: Callable[[], Any]
    needs_leader: bool = True
    start_after_s: float = 0.0  # first run this long after start-up (0: at once)


class JobRecorder:
    """Runs a job, records start/end/outcome/duration, and logs on a change of state."""

    def __init__(self, engine: Engine, metrics: Metrics) -> None:
        self.engine = engine
        self.metrics = metrics
        self._failing: dict[str, str] = {}

    def __call__(self, spec: JobSpec) -> Any:
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        outcome, error, result = "ok", None, None
        try:
            result = spec.run()
        except RetryableError as err:
            outcome, error = "retry", f"{type(err).__name__}: {err}"
        except DataError as err:
            outcome, error = "skipped", f"{type(err).__name__}: {err}"
        except OracleError as err:
            outcome, error = "failed", f"{type(err).__name__}: {err}"
        except Exception as err:  # a bug must not kill the daemon; it is recorded and alerted
            outcome, error = "failed", redact(f"{type(err).__name__}: {err}")
            log.exception("job %s crashed", spec.name)
        duration = time.perf_counter() - t0
        self._record(spec.name, started, outcome, duration, error)
        self._log_state(spec.name, outcome, error)
        return result

    def _record(self, job: str, started: datetime, outcome: str, duration: float,
                error: str | None) -> None:
        self.metrics.job_duration.labels(job=job).observe(duration)
        self.metrics.job_runs.labels(job=job, outcome=outcome).inc()
        if error:
            self.metrics.job_failures.labels(job=job, error=error.split(":")[0]).inc()
        try:
            with session_scope(self.engine) as session:
                add_job_run(session, JobRun(job=job, started_at=started,
                                            finished_at=datetime.now(UTC), outcome=outcome,
                                            duration_s=duration,
                                            error=error[:1000] if error else None))
                append_entry(session, "job.run", {"job": job, "outcome": outcome,
                                                  "duration_s": round(duration, 4), "error": error},
                             ref=job)
        except RetryableError as err:  # the store is down: the job's own outcome says so
            log.debug("could not record run of job %s: %s", job, err)
        except Exception:  # the store being down must not stop the scheduler
            log.exception("could not record run of job %s", job)

    def unavailable(self, job: str, err: RetryableError) -> None:
        """The job could not even start (the leader lock's database is down): log once."""
        self._log_state(job, "retry", f"{type(err).__name__}: {err}")

    def _log_state(self, job: str, outcome: str, error: str | None) -> None:
        if outcome in ("ok", "standby"):
            if job in self._failing:
                log.info("job %s recovered", job)
                del self._failing[job]
            return
        if self._failing.get(job) != outcome:
            log.warning("job %s: %s (%s); logged once until it changes", job, outcome, error)
            self._failing[job] = outcome


def stop_on_signals(stop_event: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop_event`` (the running job finishes, then the process exits)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop_event.set())


class Daemon:
    """The scheduler in the foreground until SIGTERM/SIGINT."""

    def __init__(self, jobs: list[JobSpec], recorder: JobRecorder, leader: LeaderLock, *,
                 misfire_grace_s: int = 60, stop_event: threading.Event | None = None) -> None:
        self.jobs = jobs
        self.recorder = recorder
        self.leader = leader
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self._role: str | None = None  # "leader" / "standby": logged once on each change
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_s},
            timezone=UTC,
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def _on_missed(self, event: JobEvent) -> None:
        log.warning("job %s missed its run time (still running or the process was busy)",
                    event.job_id)

    def _guarded(self, spec: JobSpec) -> Any:
        if spec.needs_leader:
            try:
                leading = self.leader.try_acquire()
                self._note_role("leader" if leading else "standby")
                if not leading:
                    return None  # standby: another daemon on this database is the leader
            except RetryableError as err:
                self.recorder.unavailable(spec.name, err)
                return None
        return self.recorder(spec)

    def _note_role(self, role: str) -> None:
        if role == self._role:
            return
        if role == "leader":
            log.info("this daemon is now the leader: it runs the ticks and submits reports"
                     + (" (took over from the previous leader)" if self._role else ""))
        else:
            log.info("standby: another daemon on this database is the leader; waiting to "
                     "take over")
        self._role = role

    def run_forever(self, *, install_signals: bool = True) -> None:
        if install_signals:
            stop_on_signals(self.stop_event)
        if self.stop_event.is_set():  # asked to stop while starting up
            self.leader.release()
            return
        for spec in self.jobs:
            self.scheduler.add_job(self._guarded, "interval", args=[spec], id=spec.name,
                                   name=spec.name, seconds=spec.every_s,
                                   next_run_time=datetime.now(UTC) + timedelta(seconds=spec.start_after_s))
        self.scheduler.start()
        log.info("daemon started with jobs: %s", ", ".join(s.name for s in self.jobs))
        try:
            self.stop_event.wait()
        finally:
            log.info("stopping: waiting for running jobs to finish")
            self.scheduler.shutdown(wait=True)
            self.leader.release()
            log.info("stopped cleanly")

"""Real components for the daemon tests: the reference backend, `oracle` CLI calls and `oracle run`
as subprocesses, with the store and the chain read back directly to check what the daemon did."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle.chain.contracts import bind_deployed
from oracle.store.deployments import Deployments

ROOT = Path(__file__).resolve().parents[2]
ORACLE = str(ROOT / ".venv" / "bin" / "oracle")
T = TypeVar("T")


class DaemonDied(AssertionError):
    """`oracle run` exited while a test was waiting on it."""


@dataclass
class Stack:
    """A prepared deployment: environment for the CLI, where it logs, and the daemon's API port."""

    env: dict[str, str]
    workdir: Path
    api_port: int

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before serving {url}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not answer {url} within {timeout_s:.0f}s")
        time.sleep(0.3)


def wait_daemon_up(stack: Stack, process: subprocess.Popen[bytes]) -> None:
    """`oracle run` has started (its API answers), so it handles SIGTERM gracefully."""
    _wait_http(f"{stack.api}/healthz", process, 120, "oracle run")


@dataclass
class Backend:
    url: str
    process: subprocess.Popen[bytes]

    def wait_ready(self) -> None:
        _wait_http(f"{self.url}/healthz", self.process, 120, "reference backend")


@contextmanager
def reference_backend(port: int, workdir: Path, *, speed: float, history_hours: int,
                      meters: int) -> Iterator[Backend]:
    """`oracle backend serve` on loopback (building its replay takes a while: call
    ``wait_ready``), stopped afterwards if the test has not already."""
    log = (workdir / "backend.log").open("wb")
    process = subprocess.Popen(
        [ORACLE, "backend", "serve", "--port", str(port), "--speed", str(speed),
         "--history-hours", str(history_hours), "--meters", str(meters)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield Backend(f"http://127.0.0.1:{port}", process)
    finally:
        stop(process, signal.SIGTERM, 20)
        log.close()


def stack_env(*, db_url: str, rpc_url: str, backend_url: str, workdir: Path,
              api_port: int) -> dict[str, str]:
    """Settings for every CLI call, all through ORACLE_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
    env.update({
        "ORACLE_DATABASE_URL": db_url,
        "ORACLE_DATA_DIR": str(workdir),
        "ORACLE_CHAIN__RPC_URLS": f'["{rpc_url}"]',
        "ORACLE_CHAIN__CONFIRMATIONS": "1",
        "ORACLE_CHAIN__KEYSTORE_PATH": str(workdir / "keystore.json"),
        "ORACLE_KEYSTORE_PASSWORD": "e2e-keystore-password",
        "ORACLE_BACKEND__URL": backend_url,
        "ORACLE_WEATHER__URL": backend_url,
        "ORACLE_SCHEDULER__CLOCK": "backend",
        "ORACLE_SCHEDULER__PRICING_EVERY_S": "1",
        "ORACLE_SCHEDULER__SUBMIT_EVERY_S": "1",
        "ORACLE_API__PORT": str(api_port),
        "ORACLE_LOG_LEVEL": "INFO",
        # the daemon is under test, not the forecasters (they have their own tests): the
        # cheapest one keeps a tick well inside a 6 s replay hour on a small shared machine
        "ORACLE_MODELS__FORECAST_MODEL": "seasonal_naive",
        # and no per-meter demand fits (~12 s per group each 6 replay hours, 36 s of replay):
        # tests/oracle/jobs/test_meter_forecasts.py runs them through the same stage
        "ORACLE_MODELS__DEMAND_METERS_MAX_METERS": "0",
    })
    return env


def cli(stack: Stack, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    """Run one `oracle` command to completion; the caller checks the exit code."""
    return subprocess.run([ORACLE, *args], cwd=ROOT, env=stack.env, capture_output=True,
                          text=True, timeout=timeout_s, check=False)


def cli_ok(stack: Stack, *args: str, timeout_s: float = 180) -> str:
    done = cli(stack, *args, timeout_s=timeout_s)
    assert done.returncode == 0, (f"`oracle {' '.join(args)}` exited {done.returncode}:\n"
                                  f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def prepare(stack: Stack) -> None:
    """What an operator does once: migrate, create the key, deploy the contracts."""
    keys = subprocess.Popen([ORACLE, "keys", "new"], cwd=ROOT, env=stack.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # meanwhile: migrate
    cli_ok(stack, "db", "upgrade")
    out, err = keys.communicate(timeout=180)
    assert keys.returncode == 0, f"`oracle keys new` exited {keys.returncode}:\n{out}\n{err}"
    cli_ok(stack, "contracts", "deploy")


@contextmanager
def deployed_stack(db_url: str, rpc_url: str, workdir: Path, *, api_port: int,
                   backend_port: int, speed: float = 600) -> Iterator[tuple[Stack, Backend]]:
    """The reference backend at ``speed`` (600x: a market hour every 6 s) with three weeks of
    history and 8 meters, a migrated store, a key and the contracts deployed; the chain mines a
    block every second."""
    with reference_backend(backend_port, workdir, speed=speed, history_hours=504,
                           meters=8) as backend:
        stack = Stack(stack_env(db_url=db_url, rpc_url=rpc_url, backend_url=backend.url,
                                workdir=workdir, api_port=api_port), workdir, api_port)
        prepare(stack)  # needs only the store and the chain: the backend starts meanwhile
        mine_every_second(Web3(Web3.HTTPProvider(rpc_url)))
        backend.wait_ready()
        yield stack, backend


def start_daemon(stack: Stack, n: int = 0) -> subprocess.Popen[bytes]:
    """`oracle run` in its own process group; its output goes to ``daemon-<n>.log``."""
    log = (stack.workdir / f"daemon-{n}.log").open("wb")
    try:
        return subprocess.Popen([ORACLE, "run"], cwd=ROOT, env=stack.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()  # the child keeps its own descriptor


def daemon_log(stack: Stack, n: int = 0, tail: int = 4000) -> str:
    path = stack.workdir / f"daemon-{n}.log"
    return path.read_text(errors="replace")[-tail:] if path.exists() else "(no log)"


def stop(process: subprocess.Popen[bytes], sig: int, timeout_s: float) -> int:
    """Send ``sig`` to the process and wait; SIGKILL its group if it overstays."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        raise AssertionError(f"pid {process.pid} did not exit within {timeout_s:.0f}s of "
                             f"signal {sig}") from None


def wait_for(check: Callable[[], T | None], *, timeout_s: float, what: str,
             daemon: subprocess.Popen[bytes] | None = None, every_s: float = 0.5,
             diagnose: Callable[[], str] = lambda: "") -> T:
    """Poll ``check`` until it returns something truthy; fail if the daemon dies meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if daemon is not None and daemon.poll() is not None:
            raise DaemonDied(f"oracle run exited with {daemon.returncode} while waiting for "
                             f"{what}\n{diagnose()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}\n{diagnose()}")
        time.sleep(every_s)


def log_problems(stack: Stack, n: int = 0, limit: int = 8) -> str:
    """The daemon's distinct warnings and errors (first line of each), for failure messages."""
    path = stack.workdir / f"daemon-{n}.log"
    if not path.exists():
        return "(no daemon log)"
    seen: dict[str, None] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("warning", "error", "critical"):
            detail = str(entry.get("exception", "")).strip().splitlines()[-1:]
            seen.setdefault(f"{entry.get('message')} {' '.join(detail)}"[:400], None)
    return "daemon warnings/errors:\n  " + "\n  ".join(list(seen)[:limit])


# ---------------------------------------------------------------- reading back the store


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def ticked_intervals(engine: Engine) -> list[Any]:
    """Intervals the daemon has fully ticked: up to the ``daemon.tick`` watermark."""
    mark = scalar(engine, "SELECT watermark FROM ingest_cursors WHERE stream = 'daemon.tick'")
    if mark is None:
        return []
    return [r[0] for r in rows(engine, "SELECT interval_start FROM price_rounds "
                               "WHERE interval_start <= :m ORDER BY interval_start", m=mark)]


def confirmed_reports(engine: Engine) -> dict[str, tuple[str, Any]]:
    """report_id -> (kind, interval_start) of every report confirmed on chain."""
    return {r[0]: (r[1], r[2]) for r in rows(
        engine, "SELECT report_id, kind, interval_start FROM reports WHERE status = 'confirmed'")}


def tick_retried_since(engine: Engine, since: datetime) -> bool:
    """A tick run that started after ``since`` ended in 'retry' (its source was down). Ticks run
    one at a time, so every tick that started earlier has finished: none is still queueing."""
    return bool(scalar(engine, "SELECT count(*) FROM job_runs WHERE job = 'tick' "
                               "AND outcome = 'retry' AND started_at > :t", t=since))


def unsettled_reports(engine: Engine) -> list[Any]:
    """Reports neither confirmed nor failed: the outbox has not drained."""
    return rows(engine, "SELECT report_id, status FROM reports "
                        "WHERE status NOT IN ('confirmed', 'failed')")


# ---------------------------------------------------------------- reading back the chain


def mine_every_second(w3: Web3) -> None:
    """Blocks keep coming as on a live chain, so the last report also gets its confirmation."""
    w3.provider.make_request("evm_setIntervalMining", [1000])  # type: ignore[arg-type]


def answer_events(w3: Web3, engine: Engine) -> list[Any]:
    feed = contract(w3, engine, "EnergyPriceOracle")
    return list(feed.events.AnswerUpdated().get_logs(from_block=0))


def contract(w3: Web3, engine: Engine, name: str) -> Any:
    return bind_deployed(w3, Deployments(engine).addresses(w3.eth.chain_id), name)

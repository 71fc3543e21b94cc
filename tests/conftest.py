"""Shared fixtures: a migrated store on SQLite and on PostgreSQL (marked ``postgres``).

On CI (``CI`` set) a PostgreSQL or hardhat test that cannot reach its service fails instead
of skipping, so a skipped real-service test cannot go unnoticed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from oracle.errors import StoreUnavailable
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

PG_URL = os.environ.get("ORACLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ON_CI = bool(os.environ.get("CI"))


def service_missing(reason: str) -> None:
    """Skip locally, fail on CI: real-service tests must run there."""
    if ON_CI:
        pytest.fail(f"{reason} (on CI real-service tests must run, not skip)")
    pytest.skip(reason)


def pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema, dropped afterwards; yields its URL."""
    try:
        admin = make_engine(PG_URL)
    except StoreUnavailable as err:
        service_missing(f"PostgreSQL not reachable at {PG_URL}: {err}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/oracle.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/oracle.db"
    return str(request.getfixturevalue("pg_schema"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A store migrated to head, once on SQLite and once on PostgreSQL."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


ROOT = Path(__file__).resolve().parents[1]
HARDHAT = ROOT / "node_modules" / ".bin" / "hardhat"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def hardhat_node() -> Iterator[str]:
    """`hardhat node` on a free loopback port, stopped afterwards; yields its URL."""
    if not HARDHAT.exists() or shutil.which("node") is None:
        service_missing("node_modules/.bin/hardhat missing: run `npm ci` (make test does)")
    port = free_port()
    process = subprocess.Popen(
        [str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                                      "params": []}, timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode()[-2000:] if process.stderr else ""
                    raise RuntimeError(f"hardhat node did not start: {err}") from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def hardhat_url() -> Iterator[str]:
    """A real JSON-RPC node: `hardhat node` on a free loopback port, stopped afterwards."""
    with hardhat_node() as url:
        yield url


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    """Debian's headless Chromium (`make test` installs it when run as root)."""
    if not CHROMIUM.exists():
        service_missing("headless Chromium not installed: apt-get install -y chromium")
    return CHROMIUM

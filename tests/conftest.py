"""Shared fixtures: a migrated store on SQLite and on PostgreSQL (marked ``postgres``).

On CI (``CI`` set) a PostgreSQL or hardhat test that cannot reach its service fails instead
of skipping, so a skipped real-service test cannot go unnoticed.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hardhat_process import free_port, hardhat_installed, hardhat_node
from sqlalchemy import text
from sqlalchemy.engine import Engine

from oracle.errors import StoreUnavailable
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

__all__ = ["free_port", "service_missing"]  # imported by tests that start services

PG_URL = os.environ.get("ORACLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ON_CI = bool(os.environ.get("CI"))


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Commands run in-process configure logging (``oracle.logs.configure``); put the root
    logger back after each test so one test's handlers never write into another's output."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


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


@pytest.fixture(scope="module")
def hardhat_url() -> Iterator[str]:
    """A real JSON-RPC node: `hardhat node` on a free loopback port, stopped afterwards."""
    if not hardhat_installed():
        service_missing("node_modules/.bin/hardhat missing: run `npm ci` (make test does)")
    with hardhat_node() as url:
        yield url


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    """Debian's headless Chromium (`make test` installs it when run as root)."""
    if not CHROMIUM.exists():
        service_missing("headless Chromium not installed: apt-get install -y chromium")
    return CHROMIUM

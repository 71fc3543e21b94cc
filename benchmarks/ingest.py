"""Ingestion speed: rows per second from the reference backend into SQLite and PostgreSQL.

Full run: 1,000 meters x 4 weeks of hourly readings (672,000 rows); goal: under 60 s into
PostgreSQL. ``--quick``: 100 meters x 1 week.

    .venv/bin/python benchmarks/ingest.py [--quick] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import text

from oracle.config import BackendSettings
from oracle.errors import StoreUnavailable
from oracle.jobs.ingestion import ingest_once
from oracle.simulator.replay import build_replay
from oracle.sources.client import BackendClient
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def backend_process(meters: int, weeks: int) -> Iterator[str]:
    """The reference backend in its own process (as in production), all weeks already past."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = ("from oracle.simulator.backend import serve; "
            f"serve('127.0.0.1', {port}, 1.0, meters={meters}, weeks={weeks}, "
            f"history_hours={weeks * 168})")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the reference backend did not start")
        yield url
    finally:
        process.terminate()
        process.wait(30)


def run_once(url: str, db_url: str, replay_start: object, replay_end: object,
             page_size: int) -> tuple[int, int, float]:
    engine = make_engine(db_url)
    upgrade(engine)
    client = BackendClient(BackendSettings(url=url, page_size=page_size, timeout_s=60))
    started = time.perf_counter()
    report = ingest_once(client, None, engine, since=replay_start, until=replay_end,  # type: ignore[arg-type]
                         now=replay_end)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    with engine.connect() as conn:
        stored = int(conn.execute(text("SELECT COUNT(*) FROM readings")).scalar_one())
    client.close()
    engine.dispose()
    return report.readings, stored, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 meters x 1 week")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--stores", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    meters, weeks = (100, 1) if args.quick else (1000, 4)
    replay = build_replay(meters=1, weeks=weeks, seed=0)  # only for its start and end
    results = []
    with backend_process(meters, weeks) as url, tempfile.TemporaryDirectory() as tmp:
        stores = set(args.stores.split(","))
        targets = [("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}")] if "sqlite" in stores else []
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = None
        try:
            if "postgresql" not in stores:
                raise StoreUnavailable("not requested")
            admin = make_engine(args.pg_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            targets.append(("PostgreSQL", f"{args.pg_url}?options=-csearch_path%3D{schema}"))
        except StoreUnavailable as err:
            admin = None
            print(f"PostgreSQL skipped: {err}")
        try:
            for name, db_url in targets:
                ingested, stored, elapsed = run_once(url, db_url, replay.start, replay.end,
                                                     args.page_size)
                results.append((name, ingested, stored, elapsed))
        finally:
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    expected = meters * weeks * 168
    print(f"\nIngestion, {meters} meters x {weeks} weeks hourly = {expected:,} readings, "
          f"page size {args.page_size:,}")
    print(f"{'store':<12}{'rows stored':>14}{'seconds':>10}{'rows/s':>12}  goal (PG < 60 s)")
    for name, ingested, stored, elapsed in results:
        goal = ("met" if elapsed < 60 else "MISSED") if name == "PostgreSQL" else ""
        ok = "" if stored == expected == ingested else f"  (expected {expected:,}!)"
        print(f"{name:<12}{stored:>14,}{elapsed:>10.1f}{stored / elapsed:>12,.0f}  {goal}{ok}")


if __name__ == "__main__":
    main()

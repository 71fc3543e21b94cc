"""One full daemon tick for 100, 1,000 and 10,000 meters with 4 weeks of hourly history.

Real parts: SQLite store (WAL) or PostgreSQL (``--pg``), the reference backend on a loopback
port replaying the real Taylor demand and TMY3 irradiance for N households, the in-process py-evm
chain with the contracts. The history is bulk-loaded first (timed apart, not part of the tick);
then two ticks run: the first includes fitting the anomaly detector on the past week (a fresh
daemon does that once; afterwards the daily retrain job refits it, off the tick path), the
second is steady state. Stages: ingest (one hour of readings, the book, weather) -> forecast ->
price -> detect -> optimize -> submit (queued reports signed and broadcast) -> push.

``--cluster`` (needs ``--pg``: worker processes cannot share SQLite) then gives the same daemon
the executor ``[compute] scheduler`` set to a ``distributed.LocalCluster``'s address gives (2
worker processes, one thread each, loopback) and runs the next two hours (its fitted detector
dropped first, so that tick 1 fits it again on the cluster, as a fresh daemon's first does).
Peak memory: the in-process daemon's RSS and each worker's RSS, sampled every 0.2 s during the
ticks. The growth exponent is the log-log least-squares slope over the sizes run.

    python benchmarks/tick.py [--quick] [--sizes 100,1000,10000]
    python benchmarks/tick.py --pg --cluster --meters 1000,10000 [--weeks 4]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sqlalchemy import insert, text

from oracle import jobs
from oracle.app import build
from oracle.cli.demo import SimClock, demo_settings
from oracle.executor import InProcessExecutor, executor_for
from oracle.simulator.backend import create_app, serve_in_thread
from oracle.simulator.replay import build_replay
from oracle.store import migrate
from oracle.store.engine import make_engine
from oracle.store.tables import Meter, Reading

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STAGES = ("ingest", "forecast", "price", "detect", "optimize", "submit", "push")
BYTES_PER_METER = 400  # backend.max_response_bytes per meter of the fleet
METER_COLS = ("meter_id", "user_id", "node_id", "kind", "pv_kwp", "storage_kwh", "lat", "lon")


def _meter_rows(replay: Any, now: datetime) -> list[dict[str, Any]]:
    return [{**{k: m[k] for k in METER_COLS}, "updated_at": now} for m in replay.meters]


def load_history(engine, replay, hours: int) -> float:  # type: ignore[no-untyped-def]
    """Meters and ``hours`` of readings; COPY on PostgreSQL, batched inserts on SQLite."""
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    ids = [m["meter_id"] for m in replay.meters]
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(insert(Meter), _meter_rows(replay, now))
        raw = engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()
            stamp = now.isoformat()
            with cur.copy("COPY readings (meter_id, ts, consumption_kwh, production_kwh, "
                          "ingested_at) FROM STDIN") as copy:
                for t in range(hours):
                    ts = (replay.start + timedelta(hours=t)).isoformat()
                    buf = io.StringIO()
                    for i, mid in enumerate(ids):
                        buf.write(f"{mid}\t{ts}\t{float(replay.consumption[i, t])!r}\t"
                                  f"{float(replay.production[i, t])!r}\t{stamp}\n")
                    copy.write(buf.getvalue())
            raw.commit()
        finally:
            raw.close()
        with engine.begin() as conn:
            conn.execute(text("ANALYZE readings"))
        return time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(insert(Meter), _meter_rows(replay, now))
        for t in range(hours):
            ts = replay.start + timedelta(hours=t)
            conn.execute(insert(Reading), [
                {"meter_id": ids[i], "ts": ts, "consumption_kwh": float(replay.consumption[i, t]),
                 "production_kwh": float(replay.production[i, t]), "ingested_at": now}
                for i in range(len(ids))])
    return time.perf_counter() - t0


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one run, dropped afterwards; yields its URL."""
    admin = make_engine(PG_URL)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class PeakSampler:
    """Samples ``probe()`` (a dict name -> bytes) every ``every_s`` in a thread; keeps maxima."""

    def __init__(self, probe: Callable[[], dict[str, int]], every_s: float = 0.2) -> None:
        self.probe, self.every_s = probe, every_s
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for k, v in self.probe().items():
                    self.peak[k] = max(self.peak.get(k, 0), v)
            except Exception:  # a worker being replaced: sample again next time
                pass
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _worker_rss() -> int:
    return int(psutil.Process().memory_info().rss)


def two_ticks(app, clock: SimClock, at: datetime) -> tuple[Any, Any]:  # type: ignore[no-untyped-def]
    """A first tick at ``at`` with no fitted detector (as a fresh daemon's) and the
    steady-state tick an hour later."""
    app.detector.clear()  # the next tick fits it, as a fresh daemon's first does
    clock.now_value = at
    first = jobs.run_tick(app.tick_parts(), at)
    clock.now_value = at + timedelta(hours=1)
    second = jobs.run_tick(app.tick_parts(), at + timedelta(hours=1))
    return first, second


def _skipped(*outcomes: Any) -> dict[str, str]:
    return {k: v for o in outcomes for k, v in o.stages.items() if v != "ok"}


def with_response_limit(settings: Any, meters: int) -> Any:
    """``settings`` with ``backend.max_response_bytes`` raised to the fleet: the orders list of
    one interval is about 175 bytes per meter and the meters list about 136 (measured on the
    reference backend), so 400 per meter leaves room; never below the default."""
    limit = max(settings.backend.max_response_bytes, BYTES_PER_METER * meters)
    return settings.model_copy(update={"backend": settings.backend.model_copy(
        update={"max_response_bytes": limit})})


def bench(meters: int, workdir: Path, *, weeks: int, db_url: str | None,
          cluster: bool) -> list[dict[str, object]]:
    history_h = weeks * 7 * 24
    replay = build_replay(meters=meters, weeks=weeks + 1, seed=0)
    tick_at = replay.start + timedelta(hours=history_h + 11)  # mid-morning local: the book crosses
    settings_dir = workdir / f"n{meters}"
    settings_dir.mkdir()
    clock = SimClock(tick_at)
    rows: list[dict[str, object]] = []
    with serve_in_thread(create_app(replay, clock)) as url:
        settings = with_response_limit(demo_settings(None, settings_dir, db_url, None, url), meters)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        print(f"  loading {meters} meters x {history_h + 11} h", file=sys.stderr, flush=True)
        load_s = load_history(engine, replay, history_h + 11)
        from oracle.store import ingestion

        ingestion.finish_walk(engine, "readings", tick_at - timedelta(hours=1))
        engine.dispose()
        me = psutil.Process(os.getpid())
        print(f"  in-process ticks (load {load_s:.1f} s)", file=sys.stderr, flush=True)
        app = build(settings, clock=clock)
        with PeakSampler(lambda: {"daemon": int(me.memory_info().rss)}) as mem:
            first, second = two_ticks(app, clock, tick_at)
        rows.append({"meters": meters, "mode": "in-process", "load_s": load_s, "first": first.seconds,
                     "second": second.seconds, "skipped": _skipped(first, second),
                     "peak_mb": {k: v / 2**20 for k, v in mem.peak.items()}})
        if cluster:
            import distributed

            print("  LocalCluster ticks", file=sys.stderr, flush=True)
            with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                          host="127.0.0.1", dashboard_address=None) as lc, \
                    distributed.Client(lc) as client:
                # the same daemon (its in-process chain holds the contracts), its executor the
                # one `[compute] scheduler = "<address>"` gives
                app.executor = executor_for(app.settings.compute.model_copy(
                    update={"scheduler": lc.scheduler_address}))
                probe = lambda: {str(k): int(v) for k, v in client.run(_worker_rss).items()}  # noqa: E731
                with PeakSampler(probe) as wmem:
                    first, second = two_ticks(app, clock, tick_at + timedelta(hours=2))
                app.executor.close()  # before the cluster goes
                app.executor = InProcessExecutor()
            peaks = {f"worker {i}": v / 2**20 for i, (_, v) in enumerate(sorted(wmem.peak.items()))}
            rows.append({"meters": meters, "mode": "LocalCluster", "load_s": load_s,
                         "first": first.seconds, "second": second.seconds,
                         "skipped": _skipped(first, second), "peak_mb": peaks})
        app.close()
    return rows


def growth_exponent(meters: list[int], seconds: list[float]) -> float:
    """Slope of the least-squares line through (log meters, log seconds)."""
    return float(np.polyfit(np.log(meters), np.log(seconds), 1)[0])


def _sizes(args: argparse.Namespace) -> list[int]:
    given = [s for group in (args.meters or []) + ([args.sizes] if args.sizes else [])
             for s in group.split(",") if s.strip()]
    if given:
        return [int(s.replace("_", "")) for s in given]
    return [100, 1000] if args.quick else [100, 1000, 10_000]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 meters only")
    parser.add_argument("--sizes", default=None, help="comma-separated meter counts")
    parser.add_argument("--meters", action="append", help="meter count(s); repeatable or a comma list")
    parser.add_argument("--weeks", type=int, default=4, help="weeks of hourly history (default 4)")
    parser.add_argument("--pg", action="store_true",
                        help=f"PostgreSQL at {PG_URL}, a fresh schema per size, dropped after")
    parser.add_argument("--cluster", action="store_true",
                        help="also run on a distributed.LocalCluster (2 workers; needs --pg)")
    args = parser.parse_args()
    if args.cluster and not args.pg:
        parser.error("--cluster needs --pg: the cluster's worker processes cannot share SQLite")
    if args.weeks < 2:
        parser.error(f"--weeks must be at least 2 (the detector fits on a week), got {args.weeks}")
    sizes = _sizes(args)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            print(f"… {n} meters", file=sys.stderr, flush=True)
            if args.pg:
                with pg_schema() as url:
                    rows += bench(n, Path(tmp), weeks=args.weeks, db_url=url, cluster=args.cluster)
            else:
                rows += bench(n, Path(tmp), weeks=args.weeks, db_url=None, cluster=False)
            for r in rows[-2 if args.cluster else -1:]:  # as it comes: a long run shows its sizes
                print(f"  {r['mode']}: tick 1 {sum(r['first'].values()):.2f} s, "  # type: ignore[attr-defined]
                      f"tick 2 {sum(r['second'].values()):.2f} s, {r['second']}", file=sys.stderr,  # type: ignore[attr-defined]
                      flush=True)
    store = "PostgreSQL" if args.pg else "SQLite"
    print(f"one tick, {store}, {args.weeks} weeks of history; seconds per stage of tick 1 (a fresh "
          "daemon's first, which also fits the anomaly detector) and tick 2 (steady state)")
    header = (f"{'meters':>7} {'mode':>12} {'tick':>4} {'history load':>12} "
              + " ".join(f"{s:>9}" for s in STAGES) + f" {'total':>8}  peak RSS MB (both ticks)")
    print(header)
    print("-" * len(header))
    for r in rows:
        peak = ", ".join(f"{k} {v:.0f}" for k, v in r["peak_mb"].items())  # type: ignore[attr-defined]
        for n, key in ((1, "first"), (2, "second")):
            stages: dict[str, float] = r[key]  # type: ignore[assignment]
            cells = " ".join(f"{stages.get(s, float('nan')):9.2f}" for s in STAGES)
            print(f"{r['meters']:>7} {r['mode']:>12} {n:>4} {r['load_s']:>12.1f} {cells} "
                  f"{sum(stages.values()):8.2f}  {peak if n == 1 else ''}")
        if r["skipped"]:
            print(f"        skipped: {r['skipped']}")
    for mode in ("in-process", "LocalCluster"):
        mine = [r for r in rows if r["mode"] == mode]
        if len(mine) > 1:
            ms = [int(r["meters"]) for r in mine]  # type: ignore[call-overload]
            series: list[tuple[str, str, str | None]] = [
                ("tick 1", "first", None), ("tick 2", "second", None),
                ("detect of tick 2", "second", "detect")]
            for label, tick, stage in series:
                ts = [sum(r[tick].values()) if stage is None else r[tick][stage]  # type: ignore[attr-defined, index]
                      for r in mine]
                print(f"growth exponent, {mode}, {label}, log-log fit over {ms} meters "
                      f"(1.0 = linear): {growth_exponent(ms, ts):.2f}")
    print("goal (issue 21): 100,000 meters under 300 s per steady-state tick on 2 cores")


if __name__ == "__main__":
    main()

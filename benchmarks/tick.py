"""One full daemon tick for 100, 1,000 and 10,000 meters with 4 weeks of hourly history.

Real parts: SQLite store (WAL), the reference backend on a loopback port replaying the real
Taylor demand and TMY3 irradiance for N households, the in-process py-evm chain with the
contracts. The history is bulk-loaded first (not timed as part of the tick); then two ticks run:
the first includes fitting the anomaly detector on the past week (a fresh daemon does that once;
afterwards the daily retrain job refits it, off the tick path), the second is steady state.
Stages: ingest (one hour of readings, the book, weather) -> forecast -> price -> detect ->
optimize -> submit (queued reports signed and broadcast) -> push.

    python benchmarks/tick.py [--quick] [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from oracle import jobs
from oracle.app import build
from oracle.cli.demo import SimClock, demo_settings
from oracle.simulator.backend import create_app, serve_in_thread
from oracle.simulator.replay import build_replay
from oracle.store import migrate
from oracle.store.engine import make_engine
from oracle.store.tables import Meter, Reading

HISTORY_H = 28 * 24
STAGES = ("ingest", "forecast", "price", "detect", "optimize", "submit", "push")


def load_history(engine, replay, hours: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(Meter), [{**{k: m[k] for k in ("meter_id", "user_id", "node_id", "kind",
                                                             "pv_kwp", "storage_kwh", "lat", "lon")},
                                      "updated_at": now} for m in replay.meters])
        ids = [m["meter_id"] for m in replay.meters]
        for t in range(hours):
            ts = replay.start + timedelta(hours=t)
            conn.execute(insert(Reading), [
                {"meter_id": ids[i], "ts": ts, "consumption_kwh": float(replay.consumption[i, t]),
                 "production_kwh": float(replay.production[i, t]), "ingested_at": now}
                for i in range(len(ids))])
    return time.perf_counter() - t0


def bench(meters: int, workdir: Path) -> dict[str, object]:
    replay = build_replay(meters=meters, weeks=5, seed=0)
    tick_at = replay.start + timedelta(hours=HISTORY_H + 11)  # mid-morning local: the book crosses
    settings_dir = workdir / f"n{meters}"
    settings_dir.mkdir()
    clock = SimClock(tick_at)
    with serve_in_thread(create_app(replay, clock)) as url:
        settings = demo_settings(None, settings_dir, None, None, url)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        load_s = load_history(engine, replay, HISTORY_H + 11)
        from oracle.store import ingestion

        ingestion.finish_walk(engine, "readings", tick_at - timedelta(hours=1))
        app = build(settings, clock=clock)
        first = jobs.run_tick(app, tick_at)
        clock.now_value = tick_at + timedelta(hours=1)
        second = jobs.run_tick(app, tick_at + timedelta(hours=1))
        app.close()
    skipped = {k: v for o in (first, second) for k, v in o.stages.items() if v != "ok"}
    return {"meters": meters, "load_s": load_s, "first": first.seconds, "second": second.seconds,
            "skipped": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 meters only")
    parser.add_argument("--sizes", default=None, help="comma-separated meter counts")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [100, 1000] if args.quick else [100, 1000, 10_000])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            print(f"… {n} meters", file=sys.stderr, flush=True)
            rows.append(bench(n, Path(tmp)))
    header = f"{'meters':>7} {'history load':>12} " + " ".join(f"{s:>9}" for s in STAGES) + \
        f" {'tick 1':>8} {'tick 2':>8}"
    print("one tick, seconds per stage of tick 2 (steady state); tick 1 also fits the anomaly "
          "detector, as a fresh daemon's first tick does")
    print(header)
    print("-" * len(header))
    for r in rows:
        second: dict[str, float] = r["second"]  # type: ignore[assignment]
        first: dict[str, float] = r["first"]  # type: ignore[assignment]
        cells = " ".join(f"{second.get(s, float('nan')):9.2f}" for s in STAGES)
        print(f"{r['meters']:>7} {r['load_s']:>12.1f} {cells} {sum(first.values()):8.2f} "
              f"{sum(second.values()):8.2f}")
        if r["skipped"]:
            print(f"        skipped: {r['skipped']}")
    if len(rows) > 1:
        totals = [sum(r["second"].values()) for r in rows]  # type: ignore[union-attr]
        growth = [np.log(totals[i + 1] / totals[i]) / np.log(rows[i + 1]["meters"] / rows[i]["meters"])  # type: ignore[operator]
                  for i in range(len(rows) - 1)]
        print("growth exponent of tick 2 between sizes (1.0 = linear): "
              + ", ".join(f"{g:.2f}" for g in growth))
    print("goal: 10,000 meters under 60 s per tick")


if __name__ == "__main__":
    main()

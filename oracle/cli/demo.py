"""`oracle demo`: the whole daemon on the embedded defaults, in accelerated time.

SQLite under ``var/demo``, the in-process py-evm chain with the contracts deployed, and the
reference backend replaying real data (Taylor demand, TMY3 weather) on a loopback port. The
simulated clock starts three weeks into the replay (so the forecasters have history) and moves
one market interval per tick; each tick runs exactly the jobs ``oracle run`` runs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from oracle import jobs
from oracle.app import Application, build
from oracle.chain.reports import report_id
from oracle.config import Settings, load_settings
from oracle.jobs.ingestion import ingest_once
from oracle.store import migrate
from oracle.store.engine import make_engine, session_scope
from oracle.store.outbox import latest_attempt

WARMUP = timedelta(days=21)


@dataclass
class SimClock:
    """The demo's clock, shared by the daemon and the reference backend."""

    now_value: datetime

    def now(self) -> datetime:
        return self.now_value

    def __call__(self) -> datetime:
        return self.now_value


def demo_settings(config: Path | None, data_dir: Path, db_url: str | None, rpc_url: str | None,
                  backend_url: str) -> Settings:
    overrides: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": db_url or f"sqlite:///{data_dir / 'oracle.db'}",
        "backend": {"url": backend_url, "retries": 1, "backoff_s": 0.05},
        "weather": {"url": backend_url},
        "chain": {"rpc_urls": [rpc_url] if rpc_url else [], "confirmations": 1,
                  "keystore_path": data_dir / "keystore.json"},
    }
    return load_settings(config, **overrides)


def _tx_of(app: Application, rid: str) -> tuple[str, int | None]:
    with session_scope(app.engine) as session:
        tx = latest_attempt(session, rid)
    return (tx.tx_hash[:12] + "…", tx.gas_used) if tx else ("—", None)


def _row(app: Application, outcome: jobs.TickOutcome) -> list[str]:
    f = outcome.figures
    price = f.get("price", {})
    detect = f.get("detect", {})
    plan = f.get("optimize", {})
    mape = f.get("forecast_mape")
    rid = report_id("price", app.settings.pricing.zone, outcome.interval_start)
    tx_hash, gas = _tx_of(app, rid) if price.get("queued") else ("—", None)
    skipped = [s for s, v in outcome.stages.items() if v != "ok"]
    return [f"{outcome.interval_start:%m-%d %H:%M}",
            f"{price['price']:.4f}" if price.get("price") is not None else "no trade",
            f"{price.get('volume_kwh', 0):.1f}", price.get("publish", "—"),
            f"{mape:.1f}%" if mape is not None else "—",
            str(detect.get("anomalies", "—")),
            f"{plan['cost']:.2f}" if "cost" in plan else "—",
            tx_hash, str(gas) if gas else "—", ", ".join(skipped) or "ok"]


def run_demo(*, ticks: int, config: Path | None, db_url: str | None, rpc_url: str | None,
             data_dir: Path, meters: int, console: Console) -> Application:
    from oracle.simulator.backend import create_app, serve_in_thread
    from oracle.simulator.replay import build_replay

    if db_url is None and data_dir.exists():
        shutil.rmtree(data_dir)  # a fresh demo: the embedded chain is new every run
    data_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"building the replay: {meters} households from real demand and irradiance…")
    replay = build_replay(meters=meters, weeks=4, seed=0)
    clock = SimClock(replay.start + WARMUP)
    with serve_in_thread(create_app(replay, clock)) as url:  # type: ignore[arg-type]  # duck-typed clock
        settings = demo_settings(config, data_dir, db_url, rpc_url, url)
        migrate.upgrade(make_engine(settings.database_url))
        # Deploy what is missing on the chain given too (a local hardhat node): build() does so
        # on its own only for the in-process chain, and the demo needs the contracts either way.
        app = build(settings, clock=clock, deploy_if_missing=True)
        console.print(f"reference backend at {url}; chain id {app.w3.eth.chain_id if app.w3 else '—'}; "
                      f"contracts deployed; transmitter {app.account.address if app.account else '—'}")
        with console.status("ingesting three weeks of history…"):
            ingest_once(app.backend, app.weather, app.engine, since=replay.start,
                        until=clock.now_value, now=clock.now_value, rules=app.plausibility)
        table = Table("interval (UTC)", "price", "kWh", "publish", "fcst MAPE", "anomalies",
                      "dispatch cost", "price tx", "gas", "stages", title="SolChain oracle demo")
        step = timedelta(seconds=settings.scheduler.interval_s)
        for _ in range(ticks):
            clock.now_value += step
            for outcome in jobs.catch_up(app.tick_parts()):
                jobs.submit(app.submit_parts())  # a second pass reads the receipts of what the tick broadcast
                row = _row(app, outcome)
                table.add_row(*row)
                console.print("  ".join(row))
        jobs.submit(app.submit_parts())
        console.print(table)
        return app


def print_epilogue(app: Application, console: Console) -> None:
    url = app.settings.database_url
    console.print(f"\nThe database is {url}")
    console.print("Verify the audit log:   oracle audit verify --db-url " + url)
    console.print("Recent entries:         oracle audit list --db-url " + url + " --kind price.round")
    console.print("Three example queries (sqlite3 var/demo/oracle.db):")
    for sql in ("SELECT zone, interval_start, price, volume_kwh, publish_reason, report_status, gas_used "
                "FROM v_price_rounds ORDER BY interval_start;",
                "SELECT type, severity, COUNT(*) FROM v_anomalies GROUP BY type, severity;",
                "SELECT report_id, status, tx_hash, block_number, gas_used FROM v_submissions;"):
        console.print(f"  {sql}")

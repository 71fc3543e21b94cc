"""`oracle run`, `oracle demo`, `oracle serve`: the daemon, the embedded demo, the HTTP API."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for

if TYPE_CHECKING:
    from fastapi import FastAPI

    from oracle.app import Application

console = Console()


def run(config: ConfigOpt = None, db_url: DbUrlOpt = None,
        no_api: Annotated[bool, typer.Option("--no-api", help="Do not serve /healthz, /readyz, /metrics.")] = False,
        ) -> None:
    """The daemon: scheduled jobs in the foreground, JSON logs; SIGTERM finishes the running job."""
    from oracle import logs
    from oracle.api.server import bind
    from oracle.scheduler import stop_on_signals

    stop = threading.Event()
    stop_on_signals(stop)  # first thing: a SIGTERM during start-up is a clean stop too
    settings = settings_for(config, db_url)
    logs.configure(settings.log_level)
    sock = None if no_api else bind(settings.api.host, settings.api.port)  # a taken port: exit 1

    from oracle import jobs
    from oracle.api.server import serve_in_thread
    from oracle.app import build
    from oracle.scheduler import Daemon, JobRecorder, JobSpec

    app = build(settings)
    if sock is not None:
        try:
            serve_in_thread(_api(app), sock, settings.api)
        except BaseException:
            app.close()
            raise
    s = settings.scheduler
    specs = [JobSpec("tick", s.pricing_every_s, lambda: jobs.catch_up(app.tick_parts())),
             JobSpec("submit", s.submit_every_s, lambda: jobs.submit(app.submit_parts())),
             JobSpec("monitor", s.interval_s, lambda: jobs.monitor(app.upkeep_parts()),
                     start_after_s=s.interval_s),
             JobSpec("retrain", s.retrain_every_s, lambda: jobs.retrain(app.upkeep_parts()),
                     start_after_s=s.retrain_every_s)]
    assert app.leader is not None
    try:
        Daemon(specs, JobRecorder(app.engine, app.metrics), app.leader,
               misfire_grace_s=s.misfire_grace_s, stop_event=stop).run_forever(install_signals=False)
    finally:
        app.close()


def _api(app: Application) -> FastAPI:
    """Health, metrics and the model endpoints (in worker processes), behind the guard: all
    from the parts ``app.build`` made (the committee's endpoints when it has a committee)."""
    from oracle.api.probes import create_api
    from oracle.api.routes import api_token, guard_requests, routers_for

    settings = app.settings
    routers = routers_for(app)
    committee = app.committee  # `oracle serve` builds without a chain: no committee there
    if committee is not None:  # peer messages are signed: no bearer token on these
        routers.append(committee.router())
    api = create_api(app.metrics, app.readiness, routers)
    guard_requests(api, settings.api, token=api_token(settings),
                   open_paths=("/committee/",) if committee is not None else ())
    return api


def demo(
    ticks: Annotated[int, typer.Option(min=1, max=24 * 28, help="Intervals to run (default: one day).")] = 24,
    rpc_url: Annotated[str | None, typer.Option(
        "--rpc-url", help="A JSON-RPC node instead of the in-process chain.")] = None,
    db_url: DbUrlOpt = None,
    meters: Annotated[int, typer.Option(min=2, max=5000, help="Households in the replay (100 per grid node).")] = 300,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its database.")] = Path("var/demo"),
    config: ConfigOpt = None,
) -> None:
    """Embedded defaults: SQLite, in-process py-evm, reference backend on real data; N ticks.

    Deploys the contracts, prints a row per tick (price, volume, forecast error, anomalies,
    dispatch cost, tx hash and gas), then where the database is and how to query the audit log.
    """
    from oracle import logs
    from oracle.cli.demo import print_epilogue, run_demo

    logs.configure("ERROR", json_lines=False)
    wide = Console(width=max(console.width, 150), soft_wrap=True)
    app = run_demo(ticks=ticks, config=config, db_url=db_url, rpc_url=rpc_url,
                   data_dir=data_dir, meters=meters, console=wide)
    try:
        print_epilogue(app, wide)
    finally:
        app.close()


def serve(config: ConfigOpt = None, db_url: DbUrlOpt = None,
          host: Annotated[str | None, typer.Option(
              help="Listen address (overrides api.host).")] = None,
          port: Annotated[int | None, typer.Option(
              min=1, max=65535, help="Listen port (overrides api.port).")] = None,
          ) -> None:
    """The read-only HTTP API alone on api.host:api.port: /healthz, /readyz, /metrics and the
    model endpoints (each call in one of api.workers worker processes, stopped past
    api.request_timeout_s or when its client leaves). A taken port: one line, exit 1."""
    from oracle import logs
    from oracle.api.server import bind, serve_forever
    from oracle.app import build

    settings = settings_for(config, db_url)
    chosen = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if chosen:
        settings = settings.model_copy(update={"api": settings.api.model_copy(update=chosen)})
    logs.configure(settings.log_level)
    sock = bind(settings.api.host, settings.api.port)  # a taken port: one line, exit 1
    # the store and the readiness (its database probe) from the one wiring point; no chain,
    # no weather, no ticks (so neither the backend nor a tick's age in /readyz)
    app = build(settings, with_chain=False, with_weather=False, ticks=False)
    try:
        serve_forever(_api(app), sock, settings.api)
    finally:
        app.close()

"""`oracle ingest`: one ingestion pass (meters, readings, gaps, orders, weather), then exit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import click
import typer

from oracle import logs
from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.config import load_secrets
from oracle.errors import ConfigError
from oracle.ingestion_pass import ingest_once
from oracle.sources.client import BackendClient
from oracle.sources.schemas import TIME_MAX, TIME_MIN
from oracle.sources.validation import PlausibilityRules
from oracle.sources.weather import WeatherClient
from oracle.store.connect import open_store
from oracle.textsafe import printable


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    shown = printable(value, 40)
    try:
        ts = datetime.fromisoformat(value)
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise ConfigError(f"{option} = {shown}: not an ISO 8601 time", key=option,
                          value=shown) from err
    if not TIME_MIN <= ts < TIME_MAX:
        raise ConfigError(f"{option} = {shown}: outside {TIME_MIN.year}..{TIME_MAX.year}",
                          key=option, value=shown)
    return ts


def ingest(
    backend_url: Annotated[str | None, typer.Option(
        "--backend-url", help="Backend base URL (overrides backend.url).")] = None,
    weather_url: Annotated[str | None, typer.Option(
        "--weather-url", help="Open-Meteo-compatible base URL (overrides weather.url).")] = None,
    no_weather: Annotated[bool, typer.Option("--no-weather", help="Skip weather.")] = False,
    since: Annotated[str | None, typer.Option(
        help="Start of the window (ISO 8601, UTC if no zone); default: the stored cursor.")] = None,
    until: Annotated[str | None, typer.Option(
        help="End of the window (exclusive); default: the last ended interval.")] = None,
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Run one ingestion pass and print what it stored.

    Exit 0 when everything arrived: bad rows are quarantined and a
    weather outage is only reported. Exit 2 when a page had to be
    skipped: it is fetched again on the next pass. Exit 1 when the
    backend is down.
    """
    logs.configure("ERROR", json_lines=False)  # what the pass met is printed below, once
    settings = settings_for(config, db_url)
    if backend_url:
        settings = settings.model_copy(
            update={"backend": settings.backend.model_copy(update={"url": backend_url})})
    if weather_url:
        settings = settings.model_copy(
            update={"weather": settings.weather.model_copy(update={"url": weather_url})})
    secrets = load_secrets(settings)
    engine = open_store(settings, secrets)
    client = BackendClient(settings.backend, secrets.backend_token)
    weather = None if no_weather else WeatherClient(settings.weather)
    try:
        report = ingest_once(client, weather, engine, since=_time(since, "--since"),
                             until=_time(until, "--until"),
                             rules=PlausibilityRules(interval_s=settings.scheduler.interval_s))
    finally:
        client.close()
        if weather is not None:
            weather.close()
    for note in report.notes:
        click.echo(f"warning: {note}")
    if report.weather_error is not None:
        click.echo(f"weather unavailable: {report.weather_error}; readings and orders were stored")
    click.echo(
        f"[{report.since.isoformat()}, {report.until.isoformat()}): {report.meters} meters, "
        f"{report.readings} readings in {report.pages} pages, {report.quarantined} quarantined, "
        f"{len(report.gaps)} gaps ({report.missing_intervals} missing intervals), "
        f"{report.orders} orders, {report.weather_hours} weather hours"
        + (f", {report.recovered} skipped intervals recovered" if report.recovered else ""))
    problem = report.problem()
    if problem is not None:
        raise problem  # exit 2, one line: what was skipped and that it is fetched again later

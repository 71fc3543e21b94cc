"""`oracle ingest` and `oracle backend serve` through Typer, against a real reference backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import typer
from typer.testing import CliRunner

from oracle.cli import backend
from oracle.cli.ingest import ingest
from oracle.errors import ConfigError, SourceUnavailable
from oracle.simulator.backend import ReplayClock, create_app, serve_in_thread
from oracle.simulator.replay import build_replay
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade


@pytest.fixture(scope="module")
def backend_url() -> Iterator[tuple[str, str, str]]:
    replay = build_replay(meters=4, weeks=1, seed=1)
    with serve_in_thread(create_app(replay, ReplayClock(replay.end))) as url:
        yield url, replay.start.isoformat(), (replay.start + timedelta(hours=10)).isoformat()


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("ingest")(ingest)
    app.add_typer(backend.app, name="backend")
    return app


def test_ingest_runs_one_pass(backend_url: tuple[str, str, str], sqlite_url: str) -> None:
    upgrade(make_engine(sqlite_url))
    url, since, until = backend_url
    result = CliRunner().invoke(cli(), ["ingest", "--backend-url", url, "--weather-url", url,
                                        "--db-url", sqlite_url, "--since", since,
                                        "--until", until])
    assert result.exit_code == 0, result.output
    assert "4 meters, 40 readings" in result.output and "0 quarantined" in result.output


def test_ingest_refuses_a_bad_time(backend_url: tuple[str, str, str], sqlite_url: str) -> None:
    upgrade(make_engine(sqlite_url))
    result = CliRunner().invoke(cli(), ["ingest", "--backend-url", backend_url[0],
                                        "--db-url", sqlite_url, "--since", "last tuesday"])
    assert isinstance(result.exception, ConfigError) and "--since" in str(result.exception)


def test_ingest_with_the_backend_down_is_source_unavailable(sqlite_url: str) -> None:
    upgrade(make_engine(sqlite_url))
    result = CliRunner().invoke(cli(), ["ingest", "--backend-url", "http://127.0.0.1:9",
                                        "--db-url", sqlite_url, "--no-weather"],
                                env={"ORACLE_BACKEND__RETRIES": "0"})
    assert isinstance(result.exception, SourceUnavailable)


def test_serve_rejects_a_non_positive_speed() -> None:
    result = CliRunner().invoke(cli(), ["backend", "serve", "--speed", "0"])
    assert isinstance(result.exception, ConfigError) and "--speed" in str(result.exception)

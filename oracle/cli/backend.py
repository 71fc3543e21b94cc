"""`oracle backend serve`: the reference backend (v1 contract and weather) on replayed real data."""

from __future__ import annotations

from typing import Annotated

import typer

from oracle.errors import ConfigError

app = typer.Typer(help="The reference SolChain backend, serving replayed real data.",
                  no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8600,
    speed: Annotated[float, typer.Option(help="Replay seconds per real second (3600: an hour "
                                              "per second).")] = 1.0,
    meters: Annotated[int, typer.Option(min=1, max=100_000, help="Meters to simulate.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed of the derived households and orders.")] = 0,
    weeks: Annotated[int, typer.Option(min=1, max=12, help="Weeks of replay (real demand "
                                                           "data covers 12).")] = 4,
    history_hours: Annotated[int, typer.Option(min=0, help="Hours of replay already "
                                                           "available at start-up.")] = 168,
) -> None:
    """Serve /api/v1/* and /v1/forecast from the replay until interrupted."""
    if speed <= 0:
        raise ConfigError(f"--speed = {speed}: must be positive", key="speed", value=speed)
    from oracle.simulator.backend import serve as run_server

    run_server(host, port, speed, meters=meters, weeks=weeks, seed=seed,
               history_hours=history_hours)

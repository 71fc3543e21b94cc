"""`oracle`: the operator's command line (Typer). Errors print as one line; exit 2 for bad
input or config, 1 for failures."""

from __future__ import annotations

import sys

import click
import typer

from oracle import __version__
from oracle.cli import audit, backend, contracts, daemon, db, keys, model, training
from oracle.cli.ingest import ingest
from oracle.errors import OracleError

app = typer.Typer(
    name="oracle",
    help="SolChain Oracle: forecasts, prices, anomalies and dispatch for P2P energy markets, "
         "signed on chain, with a tamper-evident audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(contracts.app, name="contracts")
app.add_typer(backend.app, name="backend")
app.add_typer(model.app, name="model")
app.command()(daemon.run)
app.command()(daemon.demo)
app.command()(daemon.serve)
app.command()(ingest)
app.command()(training.train)
app.command()(training.evaluate)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oracle {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """SolChain Oracle."""


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run a command, print an OracleError as one clear line."""
    try:
        result = app(args=argv, standalone_mode=False)
    except OracleError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except typer.exceptions.TyperException as err:  # usage errors: bad option, missing argument
        show = getattr(err, "show", None)
        if show is not None:
            show()
        else:
            click.echo(f"error: {err.format_message()}", err=True)
        return err.exit_code
    except typer.Abort:
        click.echo("aborted", err=True)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """The `oracle` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()

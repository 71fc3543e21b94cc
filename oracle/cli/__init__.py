"""`oracle`: the operator's command line (Typer). Errors print as one line; exit 2 for bad
input or config, 1 for failures."""

from __future__ import annotations

import io
import logging
import sys

import click
import typer

from oracle import __version__
from oracle.cli.lazy import LazyGroup
from oracle.errors import OracleError
from oracle.redact import one_line, redact

app = typer.Typer(
    name="oracle",
    help="SolChain Oracle: forecasts, prices, anomalies and dispatch for P2P energy markets, "
         "signed on chain, with a tamper-evident audit log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, pwsh)
    cls=LazyGroup,  # commands are imported when run (oracle/cli/lazy.py): a fast start
)


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
    """Console entry point: run a command, print any error as one clear, redacted line."""
    try:
        result = app(args=argv, standalone_mode=False)
    except OracleError as err:
        click.echo(f"error: {one_line(str(err))}", err=True)
        return err.exit_code
    except typer.exceptions.TyperException as err:  # usage errors: bad option, missing argument
        show = getattr(err, "show", None)
        if show is not None:
            text = io.StringIO()
            show(file=text)
            click.echo(redact(text.getvalue()).rstrip("\n"), err=True)
        else:
            click.echo(f"error: {one_line(err.format_message())}", err=True)
        return err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        click.echo("aborted", err=True)
        return 1
    except Exception as err:  # a bug: one line here, the traceback only at DEBUG level
        logging.getLogger("oracle.cli").debug("unexpected error", exc_info=True)
        click.echo(f"error: unexpected {type(err).__name__}: {one_line(str(err))[:300]}",
                   err=True)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """The `oracle` console script."""
    sys.exit(main())


if __name__ == "__main__":
    run()

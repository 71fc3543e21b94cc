"""`oracle keys`: the encrypted keystore (scrypt) holding the oracle's signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from oracle.chain import keystore
from oracle.cli._common import ConfigOpt, settings_for
from oracle.config import load_secrets
from oracle.errors import KeystoreError

app = typer.Typer(help="Create, import and inspect the oracle's encrypted signing key.",
                  no_args_is_help=True)

KeyFileOpt = Annotated[
    Path | None,
    typer.Option("--private-key-file", dir_okay=False,
                 help="File holding the private key as 64 hex digits (default: prompt, hidden)."),
]


IfMissingOpt = Annotated[bool, typer.Option(
    "--if-missing", help="If the keystore exists, keep it (after proving the configured password "
                         "opens it) and exit 0 instead of refusing; for init jobs run on every start.")]


@app.command("new")
def new(config: ConfigOpt = None, if_missing: IfMissingOpt = False) -> None:
    """Generate a key and write it encrypted to chain.keystore_path (mode 0600, folder 0700)."""
    settings = settings_for(config)
    password = load_secrets(settings).keystore_password
    path = settings.chain.keystore_path
    if if_missing and (path.exists() or path.is_symlink()):
        account = keystore.load(path, password)  # wrong password or unsafe mode: exit 2 here
        typer.echo(f"kept {path} for {account.address} (already there)")
        return
    address = keystore.create(path, password)
    typer.echo(f"created {settings.chain.keystore_path} for {address}")


@app.command("import")
def import_(config: ConfigOpt = None, private_key_file: KeyFileOpt = None) -> None:
    """Encrypt an existing private key (64 hex digits) into chain.keystore_path (mode 0600)."""
    settings = settings_for(config)
    password = load_secrets(settings).keystore_password
    if private_key_file is not None:
        try:
            raw = private_key_file.read_text()
        except OSError as err:
            raise KeystoreError(f"cannot read {str(private_key_file)!r}: {err.strerror}") from None
    else:
        raw = typer.prompt("private key (hex)", hide_input=True)
    address = keystore.import_key(settings.chain.keystore_path, SecretStr(raw), password)
    typer.echo(f"imported {address} into {settings.chain.keystore_path}")


@app.command("address")
def address(
    config: ConfigOpt = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Also decrypt the key with the configured password.")] = False,
) -> None:
    """Print the key's address (with --check, prove the password opens it)."""
    settings = settings_for(config)
    path = settings.chain.keystore_path
    if check:
        account = keystore.load(path, load_secrets(settings).keystore_password)
        typer.echo(account.address)
    else:
        typer.echo(keystore.address(path))

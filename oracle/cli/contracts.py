"""`oracle contracts`: deploy the price feed and registries; list what is deployed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from oracle.chain import keystore
from oracle.chain.contracts import DEPLOYED, deploy_all, deploy_params
from oracle.chain.provider import connect
from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.cli.output import Column, FormatOpt, LegacyJsonOpt, OutputFormat, emit, reject_legacy_json
from oracle.config import load_secrets
from oracle.store.connect import open_store
from oracle.store.deployments import Deployments, deployment_rows
from oracle.store.engine import session_scope

app = typer.Typer(help="Deploy the oracle's contracts and list their addresses.",
                  no_args_is_help=True)
console = Console()


@app.command("deploy")
def deploy(
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
    if_missing: Annotated[bool, typer.Option(
        "--if-missing", help="Deploy only when this chain lacks one of the contracts: skip if every "
                             "recorded address for the chain id still holds code (a fresh dev chain "
                             "gets new ones).")] = False,
) -> None:
    """Deploy EnergyPriceOracle, AnomalyRegistry and GridOptimizationRegistry (one transaction
    each, the keystore's account as signer, transmitter and reporter); record them."""
    from oracle.app import chain_account  # the daemon's wiring; heavy, so only when deploying

    settings = settings_for(config, db_url)
    secrets = load_secrets(settings)
    engine = open_store(settings, secrets)
    w3, account = chain_account(settings, secrets, ephemeral_on_dev=False)  # as the daemon does
    recorder = Deployments(engine)
    if if_missing:
        chain_id = w3.eth.chain_id
        known = recorder.addresses(chain_id)
        if all(name in known and len(w3.eth.get_code(w3.to_checksum_address(known[name]))) > 0
               for name in DEPLOYED):
            for name in DEPLOYED:
                typer.echo(f"{name:<26} {known[name]}  (chain {chain_id}, kept: already deployed)")
            return
    deployed = deploy_all(w3, account, recorder, deploy_params(settings))
    for name, address in deployed.items():
        typer.echo(f"{name:<26} {address}  (chain {w3.eth.chain_id})")


@app.command("list")
def list_(
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    legacy_json: LegacyJsonOpt = False,
) -> None:
    """List recorded deployments: chain, name, address, block."""
    reject_legacy_json(legacy_json)
    engine = open_store(settings_for(config, db_url))
    with session_scope(engine) as session:
        rows = deployment_rows(session)
    records = [{"chain_id": r.chain_id, "name": r.name, "address": r.address,
                "tx_hash": r.tx_hash, "block_number": r.block_number,
                "artifact_sha256": r.artifact_sha256, "deployed_at": r.deployed_at.isoformat()}
               for r in rows]
    emit(records, fmt, [Column("chain", "chain_id"), Column("name", "name"),
                        Column("address", "address"), Column("block", "block_number")])


@app.command("set-signers")
def set_signers(
    signers: Annotated[list[str], typer.Argument(help="Every member's signer address.")],
    quorum: Annotated[int, typer.Option("--quorum", min=1, max=31, help="Signatures a report needs (f+1).")],
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Replace the feed's signer set and quorum, and allow every signer to transmit (owner key:
    the keystore's account). For a member added, removed or a key rotated."""
    from eth_utils import is_address, to_checksum_address

    from oracle.chain.contracts import bind_deployed, send
    from oracle.errors import ConfigError

    for i, address in enumerate(signers):
        if not is_address(address):
            raise ConfigError(f"signer {i + 1}: {address!r} is not an address", key="signers",
                              value=address)
    if quorum > len(signers):
        raise ConfigError(f"--quorum {quorum} is above the {len(signers)} signers", key="quorum",
                          value=quorum)
    checksummed = [to_checksum_address(a) for a in signers]
    settings = settings_for(config, db_url)
    engine = open_store(settings)
    account = keystore.load(settings.chain.keystore_path,
                            load_secrets(settings).keystore_password)
    w3 = connect(settings.chain)
    feed = bind_deployed(w3, Deployments(engine).addresses(w3.eth.chain_id), "EnergyPriceOracle")
    send(w3, account, feed.functions.setSigners(checksummed, quorum))
    send(w3, account, feed.functions.setTransmitters(checksummed))
    typer.echo(f"EnergyPriceOracle {feed.address}: {len(checksummed)} signers, quorum {quorum}")


@app.command("record")
def record(
    name: Annotated[str, typer.Argument(help="EnergyPriceOracle, AnomalyRegistry or GridOptimizationRegistry.")],
    address: Annotated[str, typer.Argument(help="Where another member deployed it.")],
    config: ConfigOpt = None,
    db_url: DbUrlOpt = None,
) -> None:
    """Record a contract another member deployed (a committee shares one feed), after checking
    that code is there."""
    from eth_utils import is_address, to_checksum_address

    from oracle.chain.artifacts import load_artifact
    from oracle.errors import ConfigError

    if name not in DEPLOYED:
        raise ConfigError(f"name: {name!r} is not one of {list(DEPLOYED)}", key="name", value=name)
    if not is_address(address):
        raise ConfigError(f"address: {address!r} is not an address", key="address", value=address)
    settings = settings_for(config, db_url)
    engine = open_store(settings)
    w3 = connect(settings.chain)
    checksummed = to_checksum_address(address)
    if not w3.eth.get_code(checksummed):
        raise ConfigError(f"address: no contract at {checksummed} on chain {w3.eth.chain_id}",
                          key="address", value=address)
    Deployments(engine).record_deployment(chain_id=w3.eth.chain_id, name=name, address=checksummed,
                                          tx_hash="", block_number=0,
                                          artifact_sha256=load_artifact(name).sha256)
    typer.echo(f"{name:<26} {checksummed}  (chain {w3.eth.chain_id}, recorded)")

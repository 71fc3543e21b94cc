"""`oracle contracts`: deploy the price feed and registries; list what is deployed."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlmodel import col, select

from oracle.chain.contracts import deploy_all, deploy_params
from oracle.cli._common import ConfigOpt, DbUrlOpt, settings_for
from oracle.cli.output import Column, FormatOpt, LegacyJsonOpt, OutputFormat, emit, reject_legacy_json
from oracle.config import load_secrets
from oracle.store.connect import open_store
from oracle.store.deployments import Deployments
from oracle.store.engine import session_scope
from oracle.store.tables import ContractDeployment

app = typer.Typer(help="Deploy the oracle's contracts and list their addresses.",
                  no_args_is_help=True)
console = Console()


@app.command("deploy")
def deploy(config: ConfigOpt = None, db_url: DbUrlOpt = None) -> None:
    """Deploy EnergyPriceOracle, AnomalyRegistry and GridOptimizationRegistry (one transaction
    each, the keystore's account as signer, transmitter and reporter); record them."""
    from oracle.app import chain_account  # the daemon's wiring; heavy, so only when deploying

    settings = settings_for(config, db_url)
    secrets = load_secrets(settings)
    engine = open_store(settings, secrets)
    w3, account = chain_account(settings, secrets, ephemeral_on_dev=False)  # as the daemon does
    deployed = deploy_all(w3, account, Deployments(engine), deploy_params(settings))
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
        rows = session.exec(select(ContractDeployment).order_by(
            col(ContractDeployment.chain_id), col(ContractDeployment.name))).all()
    records = [{"chain_id": r.chain_id, "name": r.name, "address": r.address,
                "tx_hash": r.tx_hash, "block_number": r.block_number,
                "artifact_sha256": r.artifact_sha256, "deployed_at": r.deployed_at.isoformat()}
               for r in rows]
    emit(records, fmt, [Column("chain", "chain_id"), Column("name", "name"),
                        Column("address", "address"), Column("block", "block_number")])

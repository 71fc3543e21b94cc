"""`oracle contracts deploy / list` on the in-process chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from oracle.chain import keystore
from oracle.cli import contracts as contracts_cli
from oracle.errors import KeystoreError
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**4)
    key_path = tmp_path / "oracle.json"
    keystore.create(key_path, SecretStr("pw"))
    db_url = f"sqlite:///{tmp_path}/cli.db"
    upgrade(make_engine(db_url))
    monkeypatch.setenv("ORACLE_CHAIN__KEYSTORE_PATH", str(key_path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "pw")
    monkeypatch.delenv("ORACLE_CHAIN__RPC_URLS", raising=False)
    return db_url


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(contracts_cli.app, name="contracts")
    return root


def test_deploy_records_three_contracts_and_list_shows_them(env: str) -> None:
    runner = CliRunner()
    deployed = runner.invoke(_cli(), ["contracts", "deploy", "--db-url", env])
    assert deployed.exit_code == 0, deployed.output
    listed = runner.invoke(_cli(), ["contracts", "list", "--format", "json", "--db-url", env])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert sorted(r["name"] for r in rows) == ["AnomalyRegistry", "EnergyPriceOracle",
                                               "GridOptimizationRegistry"]
    assert all(r["address"] in deployed.output for r in rows)
    table = runner.invoke(_cli(), ["contracts", "list", "--db-url", env])
    assert "EnergyPriceOracle" in table.output


def test_deploy_with_wrong_password_fails_before_touching_the_chain(
        env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "nope")
    result = CliRunner().invoke(_cli(), ["contracts", "deploy", "--db-url", env])
    assert isinstance(result.exception, KeystoreError) and result.exception.exit_code == 2
    listed = CliRunner().invoke(_cli(), ["contracts", "list", "--format", "json", "--db-url", env])
    assert json.loads(listed.output) == []


@pytest.mark.hardhat
def test_set_signers_replaces_the_feeds_signer_set_through_the_owner(
        env: str, hardhat_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploy on a hardhat node, then rotate the committee: four signers, quorum 2, each
    allowed to transmit; bad addresses and a quorum above the signers are refused first."""
    from eth_account import Account
    from web3 import Web3

    from oracle.chain.artifacts import load_artifact
    from oracle.errors import ConfigError

    monkeypatch.setenv("ORACLE_CHAIN__RPC_URLS", json.dumps([hardhat_url]))
    runner = CliRunner()
    deployed = runner.invoke(_cli(), ["contracts", "deploy", "--db-url", env])
    assert deployed.exit_code == 0, deployed.output
    members = [Account.create().address for _ in range(4)]
    bad = runner.invoke(_cli(), ["contracts", "set-signers", members[0], "0x1234",
                                 "--quorum", "1", "--db-url", env])
    assert isinstance(bad.exception, ConfigError) and "signer 2: '0x1234'" in str(bad.exception)
    over = runner.invoke(_cli(), ["contracts", "set-signers", *members[:2], "--quorum", "3",
                                  "--db-url", env])
    assert isinstance(over.exception, ConfigError) and "above the 2 signers" in str(over.exception)
    done = runner.invoke(_cli(), ["contracts", "set-signers", *members, "--quorum", "2",
                                  "--db-url", env])
    assert done.exit_code == 0, done.output
    assert "4 signers, quorum 2" in done.output
    listed = json.loads(runner.invoke(_cli(), ["contracts", "list", "--format", "json",
                                               "--db-url", env]).output)
    address = next(r["address"] for r in listed if r["name"] == "EnergyPriceOracle")
    feed = Web3(Web3.HTTPProvider(hardhat_url)).eth.contract(
        address=address, abi=load_artifact("EnergyPriceOracle").abi)
    assert feed.functions.signers().call() == members
    assert feed.functions.transmitters().call() == members
    assert feed.functions.quorum().call() == 2


def test_deploy_if_missing_keeps_contracts_that_hold_code(
        env: str, hardhat_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_CHAIN__RPC_URLS", json.dumps([hardhat_url]))
    runner = CliRunner()
    first = runner.invoke(_cli(), ["contracts", "deploy", "--if-missing", "--db-url", env])
    assert first.exit_code == 0 and "kept" not in first.output, first.output
    listed = runner.invoke(_cli(), ["contracts", "list", "--format", "json", "--db-url", env])
    rows = json.loads(listed.output)
    again = runner.invoke(_cli(), ["contracts", "deploy", "--if-missing", "--db-url", env])
    assert again.exit_code == 0, again.output
    assert again.output.count("kept: already deployed") == 3
    assert all(r["address"] in again.output for r in rows)
    relisted = runner.invoke(_cli(), ["contracts", "list", "--format", "json", "--db-url", env])
    assert json.loads(relisted.output) == rows  # nothing re-deployed or re-recorded


def test_deploy_if_missing_deploys_again_when_the_chain_lost_the_code(env: str) -> None:
    # No rpc_urls: every command gets a fresh in-process chain, like a dev chain restarted
    # without its state; the recorded addresses hold no code there, so it deploys again.
    runner = CliRunner()
    first = runner.invoke(_cli(), ["contracts", "deploy", "--db-url", env])
    assert first.exit_code == 0, first.output
    again = runner.invoke(_cli(), ["contracts", "deploy", "--if-missing", "--db-url", env])
    assert again.exit_code == 0, again.output
    assert "kept" not in again.output and again.output.count("(chain ") == 3

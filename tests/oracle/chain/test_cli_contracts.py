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

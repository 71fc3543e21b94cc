"""Keystore: round trip, wrong password, unsafe mode, secrets never echoed; the keys CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from oracle.chain import keystore
from oracle.cli import keys as keys_cli
from oracle.errors import KeystoreError

PASSWORD = SecretStr("correct horse battery staple")
FAST = 2**4


@pytest.fixture(autouse=True)
def _fast_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystore, "SCRYPT_N", FAST)


def test_create_then_load_gives_the_same_address_and_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    address = keystore.create(path, PASSWORD)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert keystore.address(path) == address
    assert keystore.load(path, PASSWORD).address == address


def test_wrong_password_is_a_keystore_error_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    keystore.create(path, PASSWORD)
    with pytest.raises(KeystoreError, match="wrong password") as info:
        keystore.load(path, SecretStr("hunter2"))
    assert info.value.exit_code == 2
    assert "hunter2" not in str(info.value)


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    keystore.create(path, PASSWORD)
    os.chmod(path, 0o644)
    with pytest.raises(KeystoreError, match="must be 0600"):
        keystore.load(path, PASSWORD)


@pytest.mark.parametrize("password", [None, SecretStr("")])
def test_missing_password_names_where_to_set_it(tmp_path: Path, password: SecretStr | None) -> None:
    with pytest.raises(KeystoreError, match="ORACLE_KEYSTORE_PASSWORD"):
        keystore.create(tmp_path / "k.json", password)


def test_missing_file_and_existing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="oracle keys new"):
        keystore.load(tmp_path / "none.json", PASSWORD)
    path = tmp_path / "k.json"
    keystore.create(path, PASSWORD)
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        keystore.create(path, PASSWORD)


def test_import_rejects_a_bad_key_without_echoing_it(tmp_path: Path) -> None:
    secret = "0xnot-a-key-but-secret-ish"
    with pytest.raises(KeystoreError) as info:
        keystore.import_key(tmp_path / "k.json", SecretStr(secret), PASSWORD)
    assert secret not in str(info.value) and info.value.__cause__ is None


def test_import_keeps_the_address(tmp_path: Path) -> None:
    key = "0x" + "11" * 32
    address = keystore.import_key(tmp_path / "k.json", SecretStr(key), PASSWORD)
    assert address == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"
    assert keystore.load(tmp_path / "k.json", PASSWORD).key.hex() == "11" * 32


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(keys_cli.app, name="keys")
    return root


def test_cli_new_address_and_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys" / "oracle.json"
    monkeypatch.setenv("ORACLE_CHAIN__KEYSTORE_PATH", str(path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", PASSWORD.get_secret_value())
    runner = CliRunner()
    created = runner.invoke(_cli(), ["keys", "new"])
    assert created.exit_code == 0, created.output
    shown = runner.invoke(_cli(), ["keys", "address", "--check"])
    assert shown.exit_code == 0 and shown.output.strip() in created.output
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "wrong")
    failed = runner.invoke(_cli(), ["keys", "address", "--check"])
    assert isinstance(failed.exception, KeystoreError)
    assert failed.exception.exit_code == 2
    assert PASSWORD.get_secret_value() not in str(failed.exception)


def test_cli_import_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_CHAIN__KEYSTORE_PATH", str(tmp_path / "k.json"))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "pw")
    key_file = tmp_path / "key.txt"
    key_file.write_text("11" * 32 + "\n")
    result = CliRunner().invoke(_cli(), ["keys", "import", "--private-key-file", str(key_file)])
    assert result.exit_code == 0, result.output
    assert "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A" in result.output

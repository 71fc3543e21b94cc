"""Keystore: round trip, wrong password, unsafe mode, secrets never echoed; exclusive no-follow
creation in a 0700 folder; keys of exactly 32 bytes; the keys CLI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner, Result

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


def _cli_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_text: str) -> Result:
    """`oracle keys import --private-key-file` with ``key_text`` in the file."""
    monkeypatch.setenv("ORACLE_CHAIN__KEYSTORE_PATH", str(tmp_path / "k.json"))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "pw")
    key_file = tmp_path / "key.txt"
    key_file.write_text(key_text)
    return CliRunner().invoke(_cli(), ["keys", "import", "--private-key-file", str(key_file)])


def test_cli_import_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli_import(tmp_path, monkeypatch, "11" * 32 + "\n")
    assert result.exit_code == 0, result.output
    assert "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A" in result.output


# ------------------------------------------------------------------ creation that cannot be fooled

def test_an_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    keystore.create(path, PASSWORD)
    before = path.read_bytes()
    for write in (lambda: keystore.create(path, PASSWORD),
                  lambda: keystore.import_key(path, SecretStr("11" * 32), PASSWORD)):
        with pytest.raises(KeystoreError, match="refusing to overwrite"):
            write()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json"]  # no temporary file left


@pytest.mark.parametrize("dangling", [False, True])
def test_a_planted_symlink_is_not_followed(tmp_path: Path, dangling: bool) -> None:
    victim = tmp_path / "victim.txt"
    if not dangling:
        victim.write_text("precious")
    path = tmp_path / "k.json"
    path.symlink_to(victim)
    with pytest.raises(KeystoreError, match="refusing to overwrite"):
        keystore.create(path, PASSWORD)
    if dangling:
        assert not victim.exists()  # nothing created through the link
    else:
        assert victim.read_text() == "precious"
    assert path.is_symlink()


def test_a_symlinked_keystore_is_not_loaded(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    keystore.create(real, PASSWORD)
    link = tmp_path / "k.json"
    link.symlink_to(real)
    for read in (lambda: keystore.load(link, PASSWORD), lambda: keystore.address(link)):
        with pytest.raises(KeystoreError, match="symbolic link"):
            read()


def test_a_fifo_at_the_keystore_path_is_refused_without_hanging(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    os.mkfifo(path, 0o600)
    with pytest.raises(KeystoreError, match="not a regular file"):
        keystore.load(path, PASSWORD)


def test_the_keystore_folder_is_created_0700_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "k.json"
    old = os.umask(0)
    try:
        keystore.create(path, PASSWORD)
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert oct(folder.stat().st_mode & 0o777) == "0o700", folder
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_existing_folder_is_left_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    keystore.create(folder / "k.json", PASSWORD)
    assert oct(folder.stat().st_mode & 0o777) == "0o755"


@pytest.mark.parametrize(("key", "match"), [
    ("11" * 31 + "1", "64 hex digits .*got 63 characters"),
    ("0x" + "11" * 31 + "1", "64 hex digits .*got 63 characters"),
    ("11" * 32 + "1", "got 65 characters"),
    ("11" * 31, "got 62 characters"),
    ("zz" * 32, "not a hex digit"),
    ("0x" + "00" * 32, "not a valid secp256k1 key"),
    ("ff" * 32, "not a valid secp256k1 key"),
])
def test_a_key_of_other_than_32_bytes_is_refused_with_a_clear_line(tmp_path: Path, key: str, match: str) -> None:
    path = tmp_path / "k.json"
    with pytest.raises(KeystoreError, match=match) as info:
        keystore.import_key(path, SecretStr(key), PASSWORD)
    message = str(info.value)
    assert "\n" not in message and key.removeprefix("0x")[:16] not in message
    assert not path.exists()


def test_a_key_with_0x_and_whitespace_imports_as_itself(tmp_path: Path) -> None:
    address = keystore.import_key(tmp_path / "k.json", SecretStr(" 0x" + "11" * 32 + "\n"), PASSWORD)
    assert address == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"


def test_cli_import_refuses_a_63_digit_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli_import(tmp_path, monkeypatch, "11" * 31 + "1\n")
    assert isinstance(result.exception, KeystoreError) and result.exception.exit_code == 2
    assert "got 63 characters" in str(result.exception)
    assert not (tmp_path / "k.json").exists()


def test_cli_new_if_missing_keeps_the_key_and_still_checks_the_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys" / "oracle.json"
    monkeypatch.setenv("ORACLE_CHAIN__KEYSTORE_PATH", str(path))
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", PASSWORD.get_secret_value())
    runner = CliRunner()
    first = runner.invoke(_cli(), ["keys", "new", "--if-missing"])
    assert first.exit_code == 0 and "created" in first.output, first.output
    before = path.read_bytes()
    again = runner.invoke(_cli(), ["keys", "new", "--if-missing"])
    assert again.exit_code == 0 and "kept" in again.output, again.output
    assert keystore.address(path) in again.output and path.read_bytes() == before
    plain = runner.invoke(_cli(), ["keys", "new"])  # without the flag an existing key is refused
    assert isinstance(plain.exception, KeystoreError) and "already exists" in str(plain.exception)
    monkeypatch.setenv("ORACLE_KEYSTORE_PASSWORD", "wrong")
    wrong = runner.invoke(_cli(), ["keys", "new", "--if-missing"])
    assert isinstance(wrong.exception, KeystoreError) and wrong.exception.exit_code == 2
    assert path.read_bytes() == before

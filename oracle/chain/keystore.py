"""Encrypted JSON keystore (scrypt): create, import, load.

The key file must be mode 0600 and owned by us; the password comes from the secrets. No key or
password ever appears in a message, a log line or the database.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import SecretStr

from oracle.errors import KeystoreError

SCRYPT_N = 2**18  # eth-account's default work factor; tests pass a small one


def _password(password: SecretStr | None) -> str:
    if password is None or not password.get_secret_value():
        raise KeystoreError("no keystore password: set ORACLE_KEYSTORE_PASSWORD or put it in "
                            "the secrets directory as 'keystore_password'")
    return password.get_secret_value()


def _write(path: Path, keyfile: dict[str, Any], *, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise KeystoreError(f"keystore {str(path)!r} already exists; refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keyfile, handle)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def create(path: Path, password: SecretStr | None, *, scrypt_n: int | None = None) -> str:
    """Generate a key, write it encrypted to ``path`` (0600) and return its address."""
    account = Account.create()
    keyfile = Account.encrypt(account.key, _password(password), kdf="scrypt", iterations=scrypt_n or SCRYPT_N)
    _write(path, keyfile, overwrite=False)
    return str(account.address)


def import_key(path: Path, private_key: SecretStr, password: SecretStr | None, *,
               scrypt_n: int | None = None) -> str:
    """Encrypt an existing private key (hex) into ``path`` and return its address."""
    try:
        account = Account.from_key(private_key.get_secret_value().strip())
    except (ValueError, TypeError):
        # from None: the library's message could quote the key.
        raise KeystoreError("the private key is not a 32-byte hex string") from None
    keyfile = Account.encrypt(account.key, _password(password), kdf="scrypt", iterations=scrypt_n or SCRYPT_N)
    _write(path, keyfile, overwrite=False)
    return str(account.address)


def _read(path: Path) -> dict[str, Any]:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeystoreError(f"no keystore at {str(path)!r}; create one with `oracle keys new` "
                            "or `oracle keys import`") from None
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise KeystoreError(f"keystore {str(path)!r} has mode {stat.S_IMODE(info.st_mode):04o}; "
                            f"it must be 0600: run `chmod 600 {path}`")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise KeystoreError(f"keystore {str(path)!r} is not owned by the user running the oracle")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise KeystoreError(f"keystore {str(path)!r} is not a readable JSON keystore") from err
    if not isinstance(data, dict) or ("crypto" not in data and "Crypto" not in data):
        raise KeystoreError(f"keystore {str(path)!r} is not an encrypted JSON keystore")
    return data


def address(path: Path) -> str:
    """The address stored in the keystore, without decrypting it."""
    data = _read(path)
    if "address" not in data:
        raise KeystoreError(f"keystore {str(path)!r} does not record its address")
    return str(to_checksum_address("0x" + str(data["address"]).removeprefix("0x")))


def load(path: Path, password: SecretStr | None) -> LocalAccount:
    """Decrypt the keystore; wrong password or unsafe file mode raise KeystoreError (exit 2)."""
    data = _read(path)
    try:
        key = Account.decrypt(data, _password(password))
    except ValueError:
        # eth-account says "MAC mismatch"; never echo anything about the password.
        raise KeystoreError(f"cannot decrypt keystore {str(path)!r}: wrong password") from None
    return Account.from_key(key)

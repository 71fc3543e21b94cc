"""Encrypted JSON keystore (scrypt): create, import, load.

A key file is created exclusively (never over an existing file or through a symlink) in a
folder made 0700; it must be mode 0600, owned by us and not a symlink to load. The password
comes from the secrets. No key or password ever appears in a message, a log line or the
database.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import string
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from pydantic import SecretStr

from oracle.errors import KeystoreError

SCRYPT_N = 2**18  # eth-account's default work factor; tests pass a small one
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX_KEYSTORE_BYTES = 64 * 1024  # a scrypt keystore is about 500 bytes


def _password(password: SecretStr | None) -> str:
    if password is None or not password.get_secret_value():
        raise KeystoreError("no keystore password: set ORACLE_KEYSTORE_PASSWORD or put it in "
                            "the secrets directory as 'keystore_password'")
    return password.get_secret_value()


def _make_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents mode 0700; an existing folder is left as is."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for level in reversed(missing):
        try:
            level.mkdir(mode=0o700)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours to change
        except OSError as err:
            raise KeystoreError(f"cannot create keystore folder {str(level)!r}: "
                                f"{err.strerror}") from None
        os.chmod(level, 0o700)  # mkdir's mode is filtered by the umask


def _write(path: Path, keyfile: dict[str, Any]) -> None:
    """Write ``keyfile`` to ``path`` (0600) without ever replacing or following what is there.

    The JSON goes to a fresh temporary file (O_CREAT|O_EXCL|O_NOFOLLOW) that is then linked to
    ``path``; link() fails when anything, a planted symlink included, already has that name,
    and readers never see a half-written key file.
    """
    _make_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError as err:
        raise KeystoreError(f"cannot create a key file in {str(path.parent)!r}: "
                            f"{err.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # exactly, whatever the umask
        with os.fdopen(fd, "w") as handle:
            json.dump(keyfile, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise KeystoreError(f"keystore {str(path)!r} already exists; refusing to overwrite "
                            "it") from None
    except OSError as err:
        raise KeystoreError(f"cannot write keystore {str(path)!r}: {err.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _private_key(private_key: SecretStr) -> bytes:
    """Exactly 32 bytes as 64 hex digits (``0x`` optional), a valid secp256k1 key. Messages
    give the length, never the digits."""
    text = private_key.get_secret_value().strip()
    digits = text[2:] if text[:2].lower() == "0x" else text
    if len(digits) != 64:
        raise KeystoreError(f"the private key must be 64 hex digits (32 bytes); got "
                            f"{len(digits)} characters")
    if any(c not in string.hexdigits for c in digits):
        raise KeystoreError("the private key must be 64 hex digits (32 bytes); it contains a "
                            "character that is not a hex digit")
    key = bytes.fromhex(digits)
    if not 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
        raise KeystoreError("the private key is not a valid secp256k1 key (zero or not below "
                            "the curve order)")
    return key


def create(path: Path, password: SecretStr | None, *, scrypt_n: int | None = None) -> str:
    """Generate a key, write it encrypted to ``path`` (0600) and return its address."""
    account = Account.create()
    keyfile = Account.encrypt(account.key, _password(password), kdf="scrypt",
                              iterations=scrypt_n or SCRYPT_N)
    _write(path, keyfile)
    return str(account.address)


def import_key(path: Path, private_key: SecretStr, password: SecretStr | None, *,
               scrypt_n: int | None = None) -> str:
    """Encrypt an existing private key (64 hex digits) into ``path`` and return its address."""
    account = Account.from_key(_private_key(private_key))
    keyfile = Account.encrypt(account.key, _password(password), kdf="scrypt",
                              iterations=scrypt_n or SCRYPT_N)
    _write(path, keyfile)
    return str(account.address)


def _read(path: Path) -> dict[str, Any]:
    """The keystore JSON, opened without following a symlink and checked on the open file."""
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang the daemon (it fails S_ISREG)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise KeystoreError(f"no keystore at {str(path)!r}; create one with `oracle keys new` "
                            "or `oracle keys import`") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise KeystoreError(f"keystore {str(path)!r} is a symbolic link; refusing to follow "
                                "it") from None
        raise KeystoreError(f"cannot open keystore {str(path)!r}: {err.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeystoreError(f"keystore {str(path)!r} is not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise KeystoreError(f"keystore {str(path)!r} has mode "
                                f"{stat.S_IMODE(info.st_mode):04o}; it must be 0600: run "
                                f"`chmod 600 {path}`")
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            raise KeystoreError(f"keystore {str(path)!r} is not owned by the user running the "
                                "oracle")
        raw = handle.read(MAX_KEYSTORE_BYTES + 1)
    try:
        if len(raw) > MAX_KEYSTORE_BYTES:
            raise ValueError("too large")
        data = json.loads(raw)
    except ValueError:
        raise KeystoreError(f"keystore {str(path)!r} is not a readable JSON keystore") from None
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

"""The oracle's error tree. Errors are named for what happens next.

    OracleError
    ├── ConfigError              bad settings: refuse to start, say which key and why
    │   └── SchemaOutdated       database schema behind the code: run `oracle db upgrade`
    ├── RetryableError           log once on the change of state, retry next run
    │   ├── SourceUnavailable    backend / weather down, timeout, 5xx
    │   ├── RpcUnavailable       every RPC endpoint failing
    │   └── StoreUnavailable     the database does not answer
    ├── DataError                skip this interval, record it in the audit log, alert
    │   ├── SourceDataInvalid    payload fails validation (says field, row, value)
    │   └── ModelError           not fitted, infeasible, diverged
    ├── AuditChainBroken         the audit log's hash chain does not verify (names the entry)
    └── ChainError               on-chain failures
        ├── TxReverted           the transaction reverted (with the decoded reason)
        ├── TxTimeout            not mined in time even after fee bumps
        ├── NonceConflict        the chain's nonce disagrees with the store
        └── KeystoreError        no key, wrong password, unsafe file mode

Library exceptions are translated where they enter our code (``raise ... from err``).
"""

from __future__ import annotations


class OracleError(Exception):
    """Base of every error the oracle raises on purpose."""

    exit_code = 1


class ConfigError(OracleError):
    """Settings are unusable; the message names the key, the value and what is allowed."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = value


class SchemaOutdated(ConfigError):
    """The database schema is not at the revision this code needs."""


class RetryableError(OracleError):
    """A dependency is down; the same work may succeed on the next run."""


class SourceUnavailable(RetryableError):
    """The backend or weather service is down, timed out or answered 5xx."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RpcUnavailable(RetryableError):
    """Every configured RPC endpoint is failing."""


class StoreUnavailable(RetryableError):
    """The database cannot be reached."""


class DataError(OracleError):
    """This interval's data is unusable: skip it, audit it, alert."""

    exit_code = 2


class SourceDataInvalid(DataError):
    """A payload failed validation; names the field, the row and the value."""

    def __init__(self, message: str, *, field: str | None = None, row: object = None,
                 value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.row = row
        self.value = value


class ModelError(DataError):
    """A model was not fitted, was infeasible or diverged."""


class AuditChainBroken(OracleError):
    """The audit log's hash chain is broken at ``seq``."""

    def __init__(self, message: str, *, seq: int) -> None:
        super().__init__(message)
        self.seq = seq


class ChainError(OracleError):
    """Something went wrong on chain."""


class TxReverted(ChainError):
    """The transaction reverted; ``reason`` is the decoded revert reason."""

    def __init__(self, message: str, *, reason: str | None = None,
                 tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.tx_hash = tx_hash


class TxTimeout(ChainError):
    """The transaction was not mined in time, even after fee bumps."""


class NonceConflict(ChainError):
    """The chain's nonce for our address disagrees with the store."""


class KeystoreError(ChainError):
    """The key could not be loaded: missing, wrong password or unsafe file mode."""

    exit_code = 2

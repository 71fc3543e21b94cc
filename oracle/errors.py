"""The oracle's error tree. Errors are named for what happens next.

    OracleError
    ├── ConfigError              bad settings: refuse to start, say which key and why
    │   └── SchemaOutdated       database schema behind the code: run `oracle db upgrade`
    ├── ListenFailed             the HTTP API cannot bind its address: stop (exit 1)
    ├── RetryableError           log once on the change of state, retry next run
    │   ├── SourceUnavailable    backend / weather down, timeout, 5xx
    │   ├── RpcUnavailable       every RPC endpoint failing
    │   ├── StoreUnavailable     the database does not answer, or dropped the connection
    │   └── StoreWriteRefused    the database refuses writes: rolled back; fix, then retried
    │       ├── StoreFull        disk full or the database's size limit reached
    │       └── StoreReadOnly    the database file or server is read-only
    ├── DataError                skip this interval, record it in the audit log, alert
    │   ├── SourceDataInvalid    payload fails validation (says field, row, value)
    │   ├── InputTooLarge        a request or input file beyond a configured limit (names it)
    │   └── ModelError           not fitted, infeasible, diverged
    │       └── SolveFailed      an optimisation infeasible or failed (binding group)
    ├── AuditChainBroken         the audit log's hash chain does not verify (names the entry)
    └── ChainError               on-chain failures
        ├── TxReverted           the transaction reverted (with the decoded reason)
        ├── TxTimeout            not mined in time even after fee bumps
        ├── NonceConflict        the chain's nonce disagrees with the store
        └── KeystoreError        no key, wrong password, unsafe file mode

Library exceptions are translated where they enter our code (``raise ... from err``). Every
message passes the redaction rule (``oracle.redact``) when the error is made, so no secret
reaches a log line, the audit log or the CLI.
"""

from __future__ import annotations

from oracle.redact import MASK, is_secret_name, redact


class OracleError(Exception):
    """Base of every error the oracle raises on purpose."""

    exit_code = 1

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(OracleError):
    """Settings are unusable; the message names the key, the value and what is allowed."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.key = key
        self.value = MASK if key is not None and is_secret_name(key) else value


class ListenFailed(OracleError):
    """The HTTP API could not bind its host and port (taken, or not allowed)."""


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
    """The database cannot be reached, or dropped the connection mid-transaction."""


class ComputeUnavailable(RetryableError):
    """The compute cluster (Dask scheduler or too many of its workers) is gone."""


class StoreWriteRefused(RetryableError):
    """The database refused a write; the transaction was rolled back whole. An operator frees
    space or fixes permissions; the work is retried on the next run."""


class StoreFull(StoreWriteRefused):
    """The disk, or the database's own size limit, is full."""


class StoreReadOnly(StoreWriteRefused):
    """The database file, directory or server only allows reading."""


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


class InputTooLarge(DataError):
    """A request or input file asks for more than a configured limit allows; refused before
    anything is allocated. ``setting`` names the limit (``api.max_node_hours``)."""

    def __init__(self, message: str, *, field: str, setting: str, limit: int) -> None:
        super().__init__(message)
        self.field = field
        self.setting = setting
        self.limit = limit


class ModelError(DataError):
    """A model was not fitted, was infeasible or diverged."""


class SolveFailed(ModelError):
    """An optimisation was infeasible, unbounded or the solver failed; ``binding`` names the
    constraint group that made it so (when known)."""

    def __init__(self, message: str, *, binding: str | None = None,
                 status: str | None = None) -> None:
        super().__init__(message)
        self.binding = binding
        self.status = status


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

"""The tx store as the chain steps see it: a Protocol the store's ``Outbox`` fulfils.

The chain layer never imports the store; ``app.build`` hands it an object with these methods,
bound to one chain and one sending address. Every method is one database transaction.

Report status: ``pending`` (no live attempt) -> ``broadcast`` -> ``confirmed``, or ``failed``.
Attempt status: ``signed`` (written, maybe not sent) -> ``broadcast`` -> ``mined`` ->
``confirmed``; or ``replaced`` (a newer attempt took over), ``reverted``, ``dropped`` (refused,
or its nonce was taken by another transaction).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

PENDING, BROADCAST, CONFIRMED, FAILED = "pending", "broadcast", "confirmed", "failed"
SIGNED, MINED, REPLACED, REVERTED, DROPPED = "signed", "mined", "replaced", "reverted", "dropped"
LIVE = (SIGNED, BROADCAST)  # sent or about to be, not yet seen in a block
WATCHED = (SIGNED, BROADCAST, REPLACED, MINED)  # whose receipts the confirmer looks for


class StoredReport(Protocol):
    """One outbox row: a report and its calldata."""

    @property
    def report_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def contract(self) -> str: ...
    @property
    def payload(self) -> Any: ...  # {"to", "fn", "data", "report"}
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


class StoredAttempt(Protocol):
    """One signed transaction carrying a report."""

    @property
    def report_id(self) -> str: ...
    @property
    def nonce(self) -> int: ...
    @property
    def tx_hash(self) -> str: ...
    @property
    def raw_tx(self) -> str | None: ...
    @property
    def max_fee_per_gas(self) -> int: ...
    @property
    def max_priority_fee_per_gas(self) -> int: ...
    @property
    def gas_limit(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def broadcast_block(self) -> int | None: ...
    @property
    def block_number(self) -> int | None: ...
    @property
    def block_hash(self) -> str | None: ...
    @property
    def gas_used(self) -> int | None: ...


class TxStore(Protocol):
    """Reports, their attempts and the next nonce of one address on one chain."""

    @property
    def chain_id(self) -> int: ...
    @property
    def address(self) -> str: ...

    def contract_addresses(self) -> dict[str, str]: ...

    def add_report(self, *, report_id: str, kind: str, contract: str, interval_start: datetime,
                   payload: dict[str, Any], payload_hash: str) -> bool:
        """Queue a report; False (and nothing written) when ``report_id`` is already there."""

    def report(self, report_id: str) -> StoredReport | None: ...

    def reports(self, status: str) -> Sequence[StoredReport]:
        """Reports in ``status``, in queue order."""

    def attempts(self, *, report_id: str | None = None, statuses: Collection[str] | None = None,
                 nonce: int | None = None,
                 mined_above: int | None = None) -> Sequence[StoredAttempt]:
        """Attempts by nonce, then age; ``mined_above``: only those in a block above it."""

    def add_attempt(self, *, report_id: str, nonce: int, tx_hash: str, raw_tx: str,
                    to_address: str, max_fee: int, priority: int, gas_limit: int,
                    head: int) -> StoredAttempt:
        """Write a signed attempt before it is sent; the same ``tx_hash`` twice is one row
        (a refused attempt signed again is ``signed`` again)."""

    def mark_broadcast(self, tx_hash: str, head: int) -> None:
        """The node has it: attempt and report ``broadcast``, next nonce past it."""

    def mark_mined(self, tx_hash: str, *, block_number: int, block_hash: str, gas_used: int,
                   effective_gas_price: int | None, confirmed: bool) -> None:
        """In a block: this attempt ``mined`` (or ``confirmed``), the report's other live
        attempts ``replaced``, the report ``broadcast`` (or ``confirmed``)."""

    def mark_reverted(self, tx_hash: str, *, block_number: int, block_hash: str, gas_used: int,
                      effective_gas_price: int | None, error: str) -> None:
        """Mined but reverted: its live siblings at that nonce ``replaced``; the report as is."""

    def mark_reorged(self, tx_hash: str) -> None:
        """Its block left the chain: attempt and report ``broadcast`` again (to be re-sent)."""

    def drop_attempt(self, tx_hash: str, error: str) -> None: ...

    def release(self, report_id: str) -> None:
        """Back to ``pending`` to be signed again: its live attempts become ``replaced``."""

    def set_report(self, report_id: str, status: str, error: str | None = None) -> None: ...

    def next_nonce(self) -> int | None: ...

    def set_next_nonce(self, value: int) -> None: ...

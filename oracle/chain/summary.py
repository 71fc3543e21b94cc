"""What one pass of the transaction manager did, and the alerts it raised."""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle.errors import TxReverted


@dataclass(frozen=True)
class Alert:
    """A change of state worth an operator's attention (raised once, on the change)."""

    kind: str  # tx_stuck / tx_unstuck / balance_low / balance_ok
    ref: str  # report id, or the key's address
    message: str


@dataclass
class TickSummary:
    """What one tick did; ``deferred`` says why it stopped early (the RPC), if it did."""

    broadcast: list[str] = field(default_factory=list)
    bumped: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    reorged: list[str] = field(default_factory=list)
    resigned: list[str] = field(default_factory=list)  # nonce taken or a gap: signed again
    reverted: list[TxReverted] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (report id, reason)
    stuck: set[str] = field(default_factory=set)  # cannot be bumped further (the fee cap)
    out_of_funds: bool = False
    balance_wei: int | None = None
    balance_low: bool = False  # below chain.low_balance_eth or unable to pay (state, not event)
    alerts: list[Alert] = field(default_factory=list)
    deferred: str | None = None

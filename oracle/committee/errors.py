"""What goes wrong between committee members, named for what happens next.

    OracleError
    ├── MessageRefused     a peer message is not signed by a member, stale, or malformed: drop it
    └── RetryableError
        └── PeerUnreachable  a member did not answer: ask again, or do without it this round
"""

from __future__ import annotations

from oracle.errors import OracleError, RetryableError


class MessageRefused(OracleError):
    """A peer message that is not accepted; ``reason`` says why (it is sent back to the peer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PeerUnreachable(RetryableError):
    """A member's API did not answer (connection, timeout, 5xx or a body that is not JSON)."""

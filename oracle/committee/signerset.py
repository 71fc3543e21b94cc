"""The feed's signer set and quorum, read from the contract (``signers()``, ``quorum()``) and
kept for a short while: it is the only authority on who may sign and send messages."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from web3.contract import Contract

from oracle.errors import RpcUnavailable


@dataclass(frozen=True)
class SignerSet:
    signers: frozenset[str]
    quorum: int


class OnChainSigners:
    """``current()`` re-reads the contract at most every ``ttl_s`` seconds."""

    def __init__(self, feed: Contract, ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.feed = feed
        self.ttl_s = ttl_s
        self.clock = clock
        self._cached: tuple[float, SignerSet] | None = None
        self._lock = threading.Lock()

    def current(self) -> SignerSet:
        with self._lock:
            if self._cached is not None and self.clock() - self._cached[0] < self.ttl_s:
                return self._cached[1]
            try:
                signers = frozenset(str(a) for a in self.feed.functions.signers().call())
                quorum = int(self.feed.functions.quorum().call())
            except Exception as err:
                raise RpcUnavailable(f"reading the feed's signer set: {type(err).__name__}: "
                                     f"{err}") from err
            self._cached = (self.clock(), SignerSet(signers, quorum))
            return self._cached[1]

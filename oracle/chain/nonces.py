"""The nonce tracker: the next nonce for a new attempt, kept in the store, checked on chain.

The next nonce is the chain's (the pool's count if higher), skipping nonces our own live
attempts hold. Live attempts above a free nonce can never be mined (the gap would have to be
filled first), so their reports are signed again from that nonce, in queue order. The
stored value only moves forward after a successful broadcast; a sync may move it back.
"""

from __future__ import annotations

import logging

from oracle.chain.attempts import Attempts
from oracle.chain.summary import TickSummary
from oracle.chain.txstore import BROADCAST, LIVE

log = logging.getLogger(__name__)


class NonceTracker:
    """Next nonce of the key, gaps and taken nonces resolved."""

    def __init__(self, ops: Attempts) -> None:
        self.ops = ops
        self.store = ops.store

    def sync(self, summary: TickSummary) -> int:
        """The next free nonce from the chain; reports stuck above a gap are released."""
        chain_next = max(self.ops.nonce_on_chain("latest"), self.ops.nonce_on_chain("pending"))
        held = {a.nonce for a in self.store.attempts(statuses=LIVE)}
        nonce = chain_next
        while nonce in held:
            nonce += 1
        if any(n > nonce for n in held):
            log.warning("nonce %d of %s is free below live attempts: signing those again",
                        nonce, self.store.address)
            self.release_above(nonce, summary)
        stored = self.store.next_nonce()
        if stored != nonce:
            if stored is not None:
                log.warning("next nonce of %s resynced from %d to %d (the chain's)",
                            self.store.address, stored, nonce)
            self.store.set_next_nonce(nonce)
        return nonce

    def release_above(self, nonce: int, summary: TickSummary) -> None:
        """Reports whose live attempts sit above ``nonce`` go back to be signed again."""
        for report in self.store.reports(BROADCAST):
            live = self.store.attempts(report_id=report.report_id, statuses=LIVE)
            if live and min(a.nonce for a in live) > nonce:
                self.store.release(report.report_id)
                summary.resigned.append(report.report_id)

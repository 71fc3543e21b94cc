"""The confirmer: receipts up to the confirmation depth, re-checks until finality, re-orgs.

Each run: (1) confirmed attempts still above the finalized block are checked newest first
(one block lookup when nothing moved); one whose block left the chain goes back to
``broadcast`` and is re-sent. (2) Every report in flight gets its receipt: ``mined`` until
``confirmations`` blocks are on top, then ``confirmed``; a reverted one fails with its reason
unless the report's effect is on chain anyway. (3) A report whose nonce the chain has passed
without any of its attempts: landed by its effect (confirmed), superseded (failed), or its
nonce was taken by another transaction, and it is signed again at a fresh nonce.
"""

from __future__ import annotations

import logging
from typing import Any

from web3.exceptions import BlockNotFound

from oracle.chain.attempts import Attempts, Landing, read
from oracle.chain.nonces import NonceTracker
from oracle.chain.summary import TickSummary
from oracle.chain.txstore import (
    BROADCAST,
    CONFIRMED,
    FAILED,
    LIVE,
    MINED,
    WATCHED,
    StoredAttempt,
    StoredReport,
)

log = logging.getLogger(__name__)


class Confirmer:
    """Receipts, finality and what the chain says about reports in flight."""

    def __init__(self, ops: Attempts, tracker: NonceTracker) -> None:
        self.ops = ops
        self.store = ops.store
        self.tracker = tracker
        self.settings = ops.settings

    def run(self, head: int, summary: TickSummary) -> None:
        self._recheck_confirmed(head, summary)
        unresolved = [r for r in self.store.reports(BROADCAST)
                      if not self._check_receipts(r, head, summary)]
        if not unresolved:
            return
        latest = self.ops.nonce_on_chain("latest")
        for report in unresolved:
            live = self.store.attempts(report_id=report.report_id, statuses=LIVE)
            if not live:  # nothing left that could land it: sign it again
                self.store.release(report.report_id)
            elif min(a.nonce for a in live) < latest:
                self.resolve_consumed(report, head, summary)

    # ------------------------------------------------------------------ finality

    def finalized_block(self, head: int) -> int:
        """Below this block nothing is re-checked: the node's finalized tag, or the depth."""
        if self.settings.finality_tag:
            try:
                return int(read(lambda: self.ops.w3.eth.get_block("finalized"),
                                "finalized block")["number"])
            except (BlockNotFound, ValueError):
                log.warning("the node has no 'finalized' block; using finality_depth")
        return max(0, head - self.settings.finality_depth)

    def _recheck_confirmed(self, head: int, summary: TickSummary) -> None:
        watched = self.store.attempts(statuses=[CONFIRMED],
                                      mined_above=self.finalized_block(head))
        for attempt in sorted(watched, key=lambda a: a.block_number or 0, reverse=True):
            if self._block_hash(attempt.block_number) == attempt.block_hash:
                return  # its block is canonical, so is every block below it
            receipt = self.ops.receipt(attempt.tx_hash)
            if receipt is not None:
                self._record_success(attempt, receipt, head, summary)
                continue
            log.warning("report %s: confirmed transaction %s left the chain (re-org); "
                        "sending it again", attempt.report_id, attempt.tx_hash)
            self.store.mark_reorged(attempt.tx_hash)
            summary.reorged.append(attempt.report_id)

    def _block_hash(self, number: int | None) -> str | None:
        if number is None:
            return None
        try:
            block = read(lambda: self.ops.w3.eth.get_block(number), "block")
        except BlockNotFound:
            return None
        return str(block["hash"].to_0x_hex())

    # ------------------------------------------------------------------ receipts

    def _check_receipts(self, report: StoredReport, head: int, summary: TickSummary) -> bool:
        """True when one of the report's attempts is in a block (recorded)."""
        attempts = self.store.attempts(report_id=report.report_id, statuses=WATCHED)
        found: tuple[StoredAttempt, Any] | None = None
        for attempt in attempts:
            receipt = self.ops.receipt(attempt.tx_hash)
            if receipt is not None and (found is None or receipt["status"] == 1):
                found = (attempt, receipt)
        if found is not None:
            self.record(report, found[0], found[1], head, summary)
            return True
        for attempt in attempts:
            if attempt.status == MINED:
                log.warning("report %s: transaction %s left the chain (re-org); sending it "
                            "again", report.report_id, attempt.tx_hash)
                self.store.mark_reorged(attempt.tx_hash)
                summary.reorged.append(report.report_id)
        return False

    def record(self, report: StoredReport, attempt: StoredAttempt, receipt: Any, head: int,
               summary: TickSummary) -> None:
        """Write what a receipt says: mined, confirmed, or reverted (failed unless landed)."""
        if receipt["status"] == 1:
            self._record_success(attempt, receipt, head, summary)
            return
        error = self.ops.revert_reason(attempt.tx_hash, receipt)
        self.store.mark_reverted(attempt.tx_hash, block_number=receipt["blockNumber"],
                                 block_hash=receipt["blockHash"].to_0x_hex(),
                                 gas_used=receipt["gasUsed"],
                                 effective_gas_price=receipt.get("effectiveGasPrice"),
                                 error=error.reason or "reverted")
        if self.store.attempts(report_id=report.report_id, statuses=LIVE):
            log.info("report %s: %s reverted (%s); another attempt is still out",
                     report.report_id, attempt.tx_hash, error.reason)
            return
        landing = self.ops.landing(report)
        if landing is not None and not landing.superseded:
            self.settle(report, landing, head, summary)
            return
        log.error("report %s reverted: %s", report.report_id, error.reason)
        self.store.set_report(report.report_id, FAILED, error.reason)
        summary.reverted.append(error)

    def _record_success(self, attempt: StoredAttempt, receipt: Any, head: int,
                        summary: TickSummary) -> None:
        confirmed = head - receipt["blockNumber"] >= self.settings.confirmations
        self.store.mark_mined(attempt.tx_hash, block_number=receipt["blockNumber"],
                              block_hash=receipt["blockHash"].to_0x_hex(),
                              gas_used=receipt["gasUsed"],
                              effective_gas_price=receipt.get("effectiveGasPrice"),
                              confirmed=confirmed)
        if confirmed and attempt.status != CONFIRMED:
            summary.confirmed.append(attempt.report_id)

    # ------------------------------------------------------------------ consumed nonces

    def settle(self, report: StoredReport, landing: Landing, head: int,
               summary: TickSummary) -> None:
        """The chain has the report (by an attempt or its effect), or never will."""
        if landing.attempt is not None:
            self.record(report, landing.attempt, landing.receipt, head, summary)
            return
        detail = landing.finding.detail if landing.finding is not None else ""
        for attempt in self.store.attempts(report_id=report.report_id, statuses=LIVE):
            self.store.drop_attempt(attempt.tx_hash, f"not needed: {detail}")
        if landing.superseded:
            log.error("report %s cannot land: %s", report.report_id, detail)
            self.store.set_report(report.report_id, FAILED, f"superseded: {detail}")
            summary.failed.append((report.report_id, f"superseded: {detail}"))
        else:
            self.store.set_report(report.report_id, CONFIRMED)
            summary.confirmed.append(report.report_id)

    def resolve_consumed(self, report: StoredReport, head: int, summary: TickSummary) -> None:
        """The chain passed the report's nonce: landed, superseded, or its nonce was taken."""
        landing = self.ops.landing(report)
        if landing is not None:
            self.settle(report, landing, head, summary)
            return
        live = self.store.attempts(report_id=report.report_id, statuses=LIVE)
        nonce = min((a.nonce for a in live), default=None)
        log.warning("report %s: nonce %s was taken by another transaction; signing it again",
                    report.report_id, nonce)
        for attempt in live:
            self.store.drop_attempt(attempt.tx_hash,
                                    f"nonce {attempt.nonce} taken by another transaction")
        self.store.release(report.report_id)
        summary.resigned.append(report.report_id)
        if nonce is not None:  # what came after it goes again too, so the order holds
            self.tracker.release_above(nonce, summary)

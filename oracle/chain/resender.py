"""The resender and bumper: live attempts are sent again each run (the same bytes: a node that
lost them, a failover, a write that never reached the node); one not mined after
``resend_after_blocks`` is replaced at the same nonce with fees raised by at least
``fee_bump_percent`` up to the cap. One that cannot be raised further is stuck."""

from __future__ import annotations

import logging
from enum import Enum

from oracle.chain import fees as fee_market
from oracle.chain.attempts import Attempts, Sent
from oracle.chain.confirmer import Confirmer
from oracle.chain.rpc_errors import RpcErrorKind
from oracle.chain.summary import TickSummary
from oracle.chain.txstore import (
    BROADCAST,
    FAILED,
    LIVE,
    PENDING,
    SIGNED,
    StoredAttempt,
    StoredReport,
)
from oracle.errors import RpcUnavailable

log = logging.getLogger(__name__)


class Next(Enum):
    GO_ON = "go on"
    STOP = "stop"  # the nonces moved, or the key cannot pay: leave the rest to the next run


class Resender:
    """Re-send what is in flight; bump what is stuck; say what cannot be bumped."""

    def __init__(self, ops: Attempts, confirmer: Confirmer) -> None:
        self.ops = ops
        self.store = ops.store
        self.confirmer = confirmer
        self.settings = ops.settings

    def run(self, head: int, summary: TickSummary) -> None:
        current: dict[tuple[str, int], StoredAttempt] = {}
        for attempt in self.store.attempts(statuses=LIVE):  # by nonce, newest last
            current[(attempt.report_id, attempt.nonce)] = attempt
        for attempt in current.values():
            report = self.store.report(attempt.report_id)
            if report is None or report.status not in (PENDING, BROADCAST):
                self.store.drop_attempt(attempt.tx_hash, "its report is settled")
                continue
            due = (attempt.status == BROADCAST and attempt.broadcast_block is not None
                   and head - attempt.broadcast_block >= self.settings.resend_after_blocks)
            step = self._bump(report, attempt, head, summary) if due else None
            if step is None:
                step = self._resend(report, attempt, head, summary)
            if step is Next.STOP:
                return

    def _resend(self, report: StoredReport, attempt: StoredAttempt, head: int,
                summary: TickSummary) -> Next:
        sent = self.ops.send(attempt)
        if sent.accepted or sent.kind is RpcErrorKind.UNKNOWN:
            if attempt.status == SIGNED:
                self.store.mark_broadcast(attempt.tx_hash, head)
            return Next.GO_ON
        return self.after_refusal(report, attempt, sent, head, summary)

    def after_refusal(self, report: StoredReport, attempt: StoredAttempt, sent: Sent, head: int,
                      summary: TickSummary) -> Next:
        """What a node's refusal of a live attempt means."""
        kind = sent.kind
        if kind is RpcErrorKind.TRANSPORT:
            raise RpcUnavailable(f"sending {attempt.tx_hash}: {sent.message}")
        if self.ops.receipt(attempt.tx_hash) is not None:  # mined after all: confirmer's turn
            if attempt.status == SIGNED:
                self.store.mark_broadcast(attempt.tx_hash, head)
            return Next.GO_ON
        if kind is RpcErrorKind.NONCE_TOO_LOW:
            if self.ops.nonce_on_chain("latest") <= attempt.nonce:
                return Next.GO_ON  # the chain has not used it: the node's word is not enough
            self.confirmer.resolve_consumed(report, head, summary)
            return Next.STOP
        if kind is RpcErrorKind.INSUFFICIENT_FUNDS:
            summary.out_of_funds = True
        if kind is RpcErrorKind.FEE_TOO_LOW and attempt.max_fee_per_gas >= self.ops.cap:
            summary.stuck.add(report.report_id)
        if attempt.status == SIGNED or kind in (RpcErrorKind.INVALID,
                                                RpcErrorKind.EXECUTION_REVERTED):
            return self._refused(report, attempt, sent, head, summary)
        log.info("report %s: %s refused again (%s): %s", report.report_id, attempt.tx_hash,
                 kind.value if kind else "?", sent.message)
        return Next.STOP if kind in (RpcErrorKind.NONCE_TOO_HIGH,
                                     RpcErrorKind.INSUFFICIENT_FUNDS) else Next.GO_ON

    def _refused(self, report: StoredReport, attempt: StoredAttempt, sent: Sent, head: int,
                 summary: TickSummary) -> Next:
        """Never in a pool: drop it; the report is signed again, or fails if it never can be."""
        self.store.drop_attempt(attempt.tx_hash, sent.message)
        if sent.kind in (RpcErrorKind.INVALID, RpcErrorKind.EXECUTION_REVERTED):
            landing = self.ops.landing(report)
            if landing is not None and not landing.superseded:
                self.confirmer.settle(report, landing, head, summary)
            else:
                log.error("report %s refused by the node: %s", report.report_id, sent.message)
                self.store.set_report(report.report_id, FAILED, sent.message)
                summary.failed.append((report.report_id, sent.message))
            return Next.GO_ON
        self.store.release(report.report_id)
        return Next.STOP

    def _bump(self, report: StoredReport, attempt: StoredAttempt, head: int,
              summary: TickSummary) -> Next | None:
        """Replace a slow attempt with higher fees; None when the cap leaves no room."""
        old = fee_market.Fees(attempt.max_fee_per_gas, attempt.max_priority_fee_per_gas)
        new = fee_market.replacement(old, self.ops.market_fees(),
                                     self.settings.fee_bump_percent, self.ops.cap)
        if new is None:  # the alert is raised once, by the manager
            log.debug("report %s: %s not mined after %d blocks, fees at the cap (%d wei)",
                      report.report_id, attempt.tx_hash,
                      head - (attempt.broadcast_block or head), self.ops.cap)
            summary.stuck.add(report.report_id)
            return None
        replacement = self.ops.sign(report, attempt.nonce, attempt.gas_limit, new, head)
        sent = self.ops.send(replacement)
        if sent.accepted or sent.kind is RpcErrorKind.UNKNOWN:
            self.store.mark_broadcast(replacement.tx_hash, head)
            summary.bumped.append(report.report_id)
            log.info("report %s: fees bumped to %d wei (nonce %d)", report.report_id,
                     new.max_fee, attempt.nonce)
            return Next.GO_ON
        if sent.kind is RpcErrorKind.TRANSPORT:
            raise RpcUnavailable(f"sending {replacement.tx_hash}: {sent.message}")
        self.store.drop_attempt(replacement.tx_hash, sent.message)
        if sent.kind is RpcErrorKind.NONCE_TOO_LOW:
            return self.after_refusal(report, attempt, sent, head, summary)
        if sent.kind is RpcErrorKind.INSUFFICIENT_FUNDS:
            summary.out_of_funds = True
            return Next.STOP
        log.warning("report %s: bumped transaction refused (%s): %s", report.report_id,
                    sent.kind.value if sent.kind else "?", sent.message)
        return None

"""The broadcaster: queued reports, in queue order, signed at the tracked nonce and sent.

An attempt is written before it is sent; the nonce advances only once a node has it. A
refusal is read by kind: nonce too low (is ours mined? else the nonce is taken: resync and
sign again, within this run), nonce too high (a gap: resync), fees (wait, alert at the cap),
funds (stop, alert), reverted or invalid (fails unless its effect is on chain anyway). A
report signed before (its nonce was taken, a gap) is first looked up on chain.
"""

from __future__ import annotations

import logging

from oracle.chain import fees as fee_market
from oracle.chain.attempts import Attempts, Sent
from oracle.chain.confirmer import Confirmer
from oracle.chain.nonces import NonceTracker
from oracle.chain.rpc_errors import REVERT_ERRORS, RpcErrorKind, classify, translate_revert
from oracle.chain.summary import TickSummary
from oracle.chain.txstore import DROPPED, FAILED, LIVE, PENDING, REPLACED, StoredReport
from oracle.errors import RpcUnavailable

log = logging.getLogger(__name__)

GAS_MARGIN = 1.25
MAX_RESYNCS = 3  # per run: a nonce race that keeps losing is left for the next run
_RESYNC = (RpcErrorKind.NONCE_TOO_LOW, RpcErrorKind.NONCE_TOO_HIGH,
           RpcErrorKind.REPLACEMENT_UNDERPRICED)


class Broadcaster:
    """Sign and send queued reports while fewer than ``max_in_flight`` wait to be mined."""

    def __init__(self, ops: Attempts, confirmer: Confirmer, tracker: NonceTracker) -> None:
        self.ops = ops
        self.store = ops.store
        self.confirmer = confirmer
        self.tracker = tracker
        self.settings = ops.settings
        self._balance: int | None = None
        self._resyncs = 0

    def run(self, head: int, summary: TickSummary) -> None:
        nonce = self.tracker.sync(summary)
        if summary.out_of_funds:
            return
        in_flight = len(self.store.attempts(statuses=LIVE))
        self._balance = summary.balance_wei
        self._resyncs = 0
        for report in self.store.reports(PENDING):
            if in_flight >= self.settings.max_in_flight:
                return
            if self.store.attempts(report_id=report.report_id, statuses=LIVE):
                continue  # still being sent (the resender has it)
            if self._settled_before(report, head, summary):
                continue
            gas = self._gas(report, head, summary)
            if gas is None:
                continue
            outcome = self._send(report, gas, nonce, head, summary)
            if outcome is None:
                return  # held: nothing after it goes before it
            nonce, sent = outcome
            if sent:
                summary.broadcast.append(report.report_id)
                nonce, in_flight = nonce + 1, in_flight + 1

    def _send(self, report: StoredReport, gas: int, nonce: int, head: int,
              summary: TickSummary) -> tuple[int, bool] | None:
        """Sign and send at ``nonce`` (a fresh one after a nonce refusal): the nonce used and
        whether a node has it (False: the report failed); None: it waits for the next run."""
        floor: fee_market.Fees | None = None  # after "fee too low": at least this
        while True:
            fees = self._fees(report, nonce, floor)
            cost = gas * fees.max_fee
            if self._balance is not None and self._balance < cost:
                log.info("key %s holds %d wei, %d needed for report %s: waiting for funds",
                         self.store.address, self._balance, cost, report.report_id)
                summary.out_of_funds = True
                return None
            attempt = self.ops.sign(report, nonce, gas, fees, head)
            sent = self.ops.send(attempt)
            # before a refusal counts: is it mined anyway? (hardhat errs on a mined revert;
            # a proxy or a node may lose the real answer)
            mined = sent.kind not in (None, RpcErrorKind.ALREADY_KNOWN, RpcErrorKind.UNKNOWN,
                                      RpcErrorKind.TRANSPORT) \
                and self.ops.receipt(attempt.tx_hash) is not None
            if sent.kind is RpcErrorKind.NONCE_TOO_LOW and not mined \
                    and self.ops.nonce_on_chain("latest") <= nonce:
                sent = Sent(RpcErrorKind.UNKNOWN, sent.message)  # the chain disagrees: maybe
            if sent.accepted or sent.kind is RpcErrorKind.UNKNOWN or mined:  # unknown: maybe
                self.store.mark_broadcast(attempt.tx_hash, head)
                if self._balance is not None:
                    self._balance -= cost
                return nonce, True
            if sent.kind is RpcErrorKind.TRANSPORT:  # stays signed: sent again next run
                raise RpcUnavailable(f"sending {attempt.tx_hash}: {sent.message}")
            self.store.drop_attempt(attempt.tx_hash, sent.message)
            if sent.kind is RpcErrorKind.NONCE_TOO_HIGH:
                self._fill_below(nonce)
            if sent.kind in _RESYNC and self._resyncs < MAX_RESYNCS:
                self._resyncs += 1
                log.warning("report %s: nonce %d refused (%s); resyncing from the chain",
                            report.report_id, nonce, sent.message)
                nonce = self.tracker.sync(summary)
                continue
            if sent.kind in (RpcErrorKind.EXECUTION_REVERTED, RpcErrorKind.INVALID):
                self._fail(report, sent.message, head, summary)
                return nonce, False
            if sent.kind is RpcErrorKind.FEE_TOO_LOW and fees.max_fee < self.ops.cap:
                floor = fees.bumped(self.settings.fee_bump_percent, self.ops.cap)
                continue  # each round at least fee_bump_percent higher: ends at the cap
            self._hold(report, sent.kind, fees, sent.message, summary)
            return None

    def _fill_below(self, nonce: int) -> None:
        """A gap below ``nonce``: send our live attempts there again (one may never have
        reached the node, say an unknown error on its way)."""
        for attempt in self.store.attempts(statuses=LIVE):
            if attempt.nonce < nonce:
                self.ops.send(attempt)

    def _settled_before(self, report: StoredReport, head: int, summary: TickSummary) -> bool:
        """A report with earlier attempts may be on chain already: then it is settled here."""
        if not self.store.attempts(report_id=report.report_id):
            return False
        landing = self.ops.landing(report)
        if landing is None:
            return False
        self.confirmer.settle(report, landing, head, summary)
        return True

    def _gas(self, report: StoredReport, head: int, summary: TickSummary) -> int | None:
        """Gas with a margin; a call that would revert fails the report without sending it,
        unless its effect is already on chain."""
        call = {"from": self.store.address, "to": report.payload["to"],
                "data": report.payload["data"]}
        try:
            return int(self.ops.w3.eth.estimate_gas(call) * GAS_MARGIN)  # type: ignore[arg-type]
        except Exception as err:
            if not isinstance(err, REVERT_ERRORS) and \
                    classify(err) is not RpcErrorKind.EXECUTION_REVERTED:
                if isinstance(err, RpcUnavailable):
                    raise
                raise RpcUnavailable(f"estimating gas for {report.report_id}: {err}") from err
            error = translate_revert(err)
        landing = self.ops.landing(report)
        if landing is not None and not landing.superseded:
            self.confirmer.settle(report, landing, head, summary)
            return None
        log.error("report %s would revert, not sent: %s", report.report_id, error.reason)
        self.store.set_report(report.report_id, FAILED, error.reason)
        summary.reverted.append(error)
        return None

    def _fees(self, report: StoredReport, nonce: int,
              floor: fee_market.Fees | None) -> fee_market.Fees:
        """The market's fees, at least ``floor`` and what this report was refused at before
        at this nonce (the same bytes again: no new row), above any of our transactions that
        may still hold ``nonce``."""
        at_nonce = self.store.attempts(nonce=nonce)
        tried = [fee_market.Fees(a.max_fee_per_gas, a.max_priority_fee_per_gas)
                 for a in at_nonce if a.report_id == report.report_id and a.status == DROPPED]
        fees = self.ops.market_fees()
        for low in [*tried, *([floor] if floor is not None else [])]:
            fees = fee_market.Fees(max(fees.max_fee, low.max_fee),
                                   max(fees.priority, low.priority))
        others = [fee_market.Fees(a.max_fee_per_gas, a.max_priority_fee_per_gas)
                  for a in at_nonce if a.status in (*LIVE, REPLACED)]
        return fee_market.above(fees, others, self.settings.fee_bump_percent, self.ops.cap)

    def _fail(self, report: StoredReport, reason: str, head: int, summary: TickSummary) -> None:
        """Refused for good: failed, unless the chain has its effect anyway."""
        landing = self.ops.landing(report)
        if landing is not None and not landing.superseded:
            self.confirmer.settle(report, landing, head, summary)
            return
        log.error("report %s refused by the node: %s", report.report_id, reason)
        self.store.set_report(report.report_id, FAILED, reason)
        summary.failed.append((report.report_id, reason))

    def _hold(self, report: StoredReport, kind: RpcErrorKind | None, fees: fee_market.Fees,
              message: str, summary: TickSummary) -> None:
        """Refused for now (funds, fees, a nonce race): the report waits for the next run."""
        if kind is RpcErrorKind.INSUFFICIENT_FUNDS:
            summary.out_of_funds = True
        elif kind is RpcErrorKind.FEE_TOO_LOW and fees.max_fee >= self.ops.cap:
            summary.stuck.add(report.report_id)
        log.info("report %s held for the next run: %s", report.report_id, message)

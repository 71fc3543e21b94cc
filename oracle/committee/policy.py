"""The follower's rule: sign a proposal only when it is this round's leader's, fresh, for a round
still open on chain, within ``tolerance_percent`` of this member's own answer, and the first
report this member signs for the round. Every ask, signature and refusal is audited, and the
signature is committed to the audit log before it is handed out, so no restart can make this
member sign a second report for a round."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import Session
from web3.contract import Contract

from oracle.chain.encoding import sign_report
from oracle.committee.chainview import round_open
from oracle.committee.errors import MessageRefused
from oracle.committee.local import LocalAnswer
from oracle.committee.messages import Domain, Proposal
from oracle.committee.metrics import CommitteeMetrics
from oracle.committee.schedule import LeaderSchedule
from oracle.config import CommitteeSettings
from oracle.store.audit import append_entry, entries
from oracle.store.engine import session_scope

log = logging.getLogger(__name__)
MAX_FUTURE_S = 60  # the feed's tolerance for an observation ahead of the block
SIGNED = "committee.signed"


class View(Protocol):
    def answer(self, interval_start: datetime) -> LocalAnswer | None: ...


@dataclass(frozen=True)
class Decision:
    """``signature`` (65 bytes, hex) when signed; otherwise ``code`` and ``reason``."""

    signature: str | None = None
    digest: str | None = None
    code: str = "signed"
    reason: str = ""
    signed: dict[str, Any] | None = None  # the report already signed for this round, if any

    def reply(self, round_id: int) -> tuple[str, dict[str, Any]]:
        if self.signature is not None:
            return "signature", {"round_id": round_id, "signature": self.signature,
                                 "digest": self.digest}
        return "refusal", {"round_id": round_id, "code": self.code, "reason": self.reason,
                           "signed": self.signed}


class Refuse(Exception):
    def __init__(self, code: str, reason: str, signed: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.code, self.reason, self.signed = code, reason, signed


def round_ref(zone: str, round_id: int) -> str:
    return f"committee:{zone}:{round_id}"


def within(theirs: float, mine: float, percent: float) -> bool:
    if mine == 0:
        return theirs == 0
    return abs(theirs - mine) / abs(mine) * 100 <= percent


def signed_for_round(session: Session, zone: str, round_id: int) -> dict[str, Any] | None:
    """What this member signed for the round (from its audit log), or None."""
    first = entries(session, SIGNED, round_ref(zone, round_id), limit=1)
    return json.loads(first[0].payload) if first else None


class SigningPolicy:
    def __init__(self, account: LocalAccount, domain: Domain, schedule: LeaderSchedule,
                 feed: Contract, view: View, engine: Engine, settings: CommitteeSettings,
                 interval_s: int, metrics: CommitteeMetrics,
                 clock: Callable[[], float] = time.time) -> None:
        self.account = account
        self.domain = domain
        self.schedule = schedule
        self.feed = feed
        self.view = view
        self.engine = engine
        self.settings = settings
        self.interval_s = interval_s
        self.metrics = metrics
        self.clock = clock
        self._lock = threading.Lock()  # one decision at a time: check-then-sign is atomic

    @property
    def max_observation_age_s(self) -> float:
        """A proposal's observation is made in its attempt; a takeover may re-propose the first
        leader's report, so the whole schedule plus message delay bounds its age."""
        return self.settings.leader_timeout_s * len(self.schedule.members) + \
            self.settings.max_message_age_s

    def decide(self, sender: str, body: Any) -> tuple[int, Decision]:
        """Sign or refuse ``body`` (a proposal) from ``sender``, a verified member."""
        try:
            proposal = Proposal.from_dict(body)
        except MessageRefused:
            self.metrics.refused.labels(reason="malformed").inc()
            raise
        with self._lock, session_scope(self.engine) as session:
            ref = round_ref(self.domain.zone, proposal.round_id)
            append_entry(session, "committee.asked", {"from": sender,
                                                      "proposal": proposal.as_dict()}, ref=ref)
            try:
                decision = self._check_and_sign(session, sender, proposal)
            except Refuse as refusal:
                decision = Decision(code=refusal.code, reason=refusal.reason,
                                    signed=refusal.signed)
                append_entry(session, "committee.refused", {
                    "from": sender, "code": refusal.code, "reason": refusal.reason,
                    "proposal": proposal.as_dict()}, ref=ref)
        if decision.signature is not None:
            self.metrics.signed.inc()
        else:
            self.metrics.refused.labels(reason=decision.code).inc()
            log.info("round %d: refused %s's proposal: %s", proposal.round_id, sender,
                     decision.reason)
        return proposal.round_id, decision

    def _check_and_sign(self, session: Session, sender: str, p: Proposal) -> Decision:
        now = self.clock()
        if p.interval_start % self.interval_s or p.interval_start // self.interval_s != p.round_id:
            raise Refuse("wrong-round", f"round {p.round_id} is not the interval starting at "
                                        f"{p.interval_start} ({self.interval_s}s intervals)")
        if not self.schedule.may_lead(sender, p.round_id, p.interval_start, now):
            raise Refuse("not-leader", f"{sender} does not lead round {p.round_id} at "
                                       f"attempt {self.schedule.attempt(p.interval_start, now)}")
        if p.observed_at < p.interval_start or p.observed_at > now + MAX_FUTURE_S:
            raise Refuse("stale", f"observed_at {p.observed_at} is outside [interval start "
                                  f"{p.interval_start}, now + {MAX_FUTURE_S}s]")
        if now - p.observed_at > self.max_observation_age_s:
            raise Refuse("stale", f"observed_at {p.observed_at} is {now - p.observed_at:.0f}s "
                                  f"old (bound {self.max_observation_age_s:.0f}s)")
        report = p.report(self.domain)
        digest = self._digest_hex(p)
        already = signed_for_round(session, self.domain.zone, p.round_id)
        if already is not None:
            if already["digest"] == digest:  # the same report asked again: the same answer
                return Decision(signature=already["signature"], digest=digest)
            raise Refuse("already-signed", f"already signed another report for round "
                                           f"{p.round_id} (digest {already['digest']})",
                         signed=already["proposal"])
        is_open, why = round_open(self.feed, p.round_id)
        if not is_open:
            raise Refuse("round-not-new", why)
        self._check_answer(p)
        signature = sign_report(self.account, report, self.domain.chain_id,
                                self.domain.feed).hex()
        append_entry(session, SIGNED, {"from": sender, "digest": digest, "signature": signature,
                                       "proposal": p.as_dict()},
                     ref=round_ref(self.domain.zone, p.round_id))
        return Decision(signature=signature, digest=digest)

    def _check_answer(self, p: Proposal) -> None:
        mine = self.view.answer(datetime.fromtimestamp(p.interval_start, UTC))
        if mine is None:
            raise Refuse("no-local-data", f"no stored data for the interval starting at "
                                          f"{p.interval_start}")
        if mine.price is None:
            raise Refuse("no-local-data", "no trade in this member's book for the interval")
        tolerance = self.settings.tolerance_percent
        if not within(p.price, mine.price, tolerance):
            raise Refuse("out-of-tolerance", f"price {p.price} is "
                                             f"{abs(p.price - mine.price) / abs(mine.price) * 100:.2f}% "
                                             f"from this member's {mine.price} "
                                             f"(tolerance {tolerance}%)")
        if len(p.curve) != len(mine.curve):
            raise Refuse("out-of-tolerance", f"curve has {len(p.curve)} points, this member's "
                                             f"{len(mine.curve)}")
        for i, (theirs, own) in enumerate(zip(p.curve, mine.curve, strict=True)):
            if not within(theirs, own, tolerance):
                raise Refuse("out-of-tolerance", f"curve[{i}] {theirs} is beyond {tolerance}% "
                                                 f"of this member's {own}")

    def _digest_hex(self, p: Proposal) -> str:
        from eth_account.messages import encode_typed_data
        from eth_utils import keccak

        message = encode_typed_data(full_message=p.report(self.domain).typed_data(
            self.domain.chain_id, self.domain.feed))
        return "0x" + keccak(b"\x19" + message.version + message.header + message.body).hex()

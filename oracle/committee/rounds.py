"""One round from every member's side: check the chain, lead when the schedule says so, else
wait for the round to land or for this member's turn. A member about to lead asks the chain
first (the transaction manager's effect check), so a round a dead leader already transmitted is
never transmitted again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from web3.contract import Contract

from oracle.committee.chainview import round_open
from oracle.committee.messages import Proposal
from oracle.committee.proposer import Attempt, Proposer, Transmit
from oracle.committee.schedule import LeaderSchedule
from oracle.store.audit import AuditLog

log = logging.getLogger(__name__)


@dataclass
class RoundResult:
    round_id: int
    outcome: str  # on-chain / closed / timed-out
    detail: str = ""
    attempts: list[tuple[int, Attempt]] = field(default_factory=list)  # (attempt, what it did)

    @property
    def led(self) -> bool:
        return bool(self.attempts)


class RoundRunner:
    def __init__(self, me: str, schedule: LeaderSchedule, feed: Contract, proposer: Proposer,
                 audit: AuditLog, clock: Callable[[], float] = time.time,
                 poll_s: float = 0.25) -> None:
        self.me = me
        self.schedule = schedule
        self.feed = feed
        self.proposer = proposer
        self.audit = audit
        self.clock = clock
        self.poll_s = poll_s

    def run(self, make_proposal: Callable[[], Proposal], round_id: int, round_start: float,
            transmit: Transmit, quorum: int) -> RoundResult:
        """Until the round is on chain or every member's attempt has passed (bounded by
        ``n * leader_timeout_s`` from the round's start)."""
        n = len(self.schedule.members)
        end = self.schedule.attempt_start(round_start, n)
        result = RoundResult(round_id, "timed-out")
        led: set[int] = set()
        while True:
            is_open, why = round_open(self.feed, round_id)
            if not is_open:
                result.outcome, result.detail = "on-chain", why
                break
            now = self.clock()
            if now >= end:
                result.detail = f"not on chain after all {n} attempts"
                break
            k = self.schedule.attempt(round_start, now)
            if self.schedule.leader(round_id, k) == self.me and k not in led:
                led.add(k)
                log.info("round %d: leading attempt %d", round_id, k)
                attempt = self.proposer.lead(make_proposal(),
                                             self.schedule.attempt_start(round_start, k + 1),
                                             transmit, quorum)
                result.attempts.append((k, attempt))
                continue
            time.sleep(self.poll_s)
        self.audit.append("committee.round", {"round_id": round_id, "outcome": result.outcome,
                                              "detail": result.detail,
                                              "led_attempts": [k for k, _ in result.attempts]},
                          ref=f"committee:{self.proposer.domain.zone}:{round_id}")
        return result

"""The leader's side of one attempt: endorse its own proposal (through its own signing policy,
so it too never backs two reports for a round), collect ``quorum - 1`` peer signatures, check
each one, and hand the report with its signatures to ``transmit`` (the transaction manager)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from oracle.chain.encoding import PriceReport, signature_blob
from oracle.committee.errors import MessageRefused, PeerUnreachable
from oracle.committee.messages import Domain, Proposal, open_envelope, seal
from oracle.committee.metrics import CommitteeMetrics
from oracle.committee.peers import PeerClient
from oracle.committee.policy import SigningPolicy
from oracle.config import CommitteeSettings
from oracle.store.audit import AuditLog

log = logging.getLogger(__name__)
FINAL = frozenset({"out-of-tolerance", "already-signed", "round-not-new", "wrong-round", "stale"})
Transmit = Callable[[PriceReport, bytes], bool]


@dataclass
class Attempt:
    """What one attempt did: the report it proposed, who signed, who refused and why."""

    proposal: Proposal | None = None
    signatures: dict[str, bytes] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    transmitted: bool = False
    outcome: str = "pending"


class Proposer:
    def __init__(self, account: LocalAccount, domain: Domain, policy: SigningPolicy,
                 client: PeerClient, peers: dict[str, str], settings: CommitteeSettings,
                 audit: AuditLog, metrics: CommitteeMetrics,
                 clock: Callable[[], float] = time.time, retry_s: float = 0.25) -> None:
        self.account = account
        self.domain = domain
        self.policy = policy
        self.client = client
        self.peers = peers  # address -> base URL, this member excluded
        self.settings = settings
        self.audit = audit
        self.metrics = metrics
        self.clock = clock
        self.retry_s = retry_s
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(peers)),
                                        thread_name_prefix="committee-peer")

    def lead(self, proposal: Proposal, deadline: float, transmit: Transmit,
             quorum: int) -> Attempt:
        """Propose until ``deadline``; ``quorum`` is the feed's (the transmitter counts as one)."""
        attempt = Attempt()
        endorsed = self._endorse(proposal, attempt)
        if endorsed is None:
            self.metrics.rounds_led.labels(outcome=attempt.outcome).inc()
            return attempt
        attempt.proposal = proposal = endorsed
        report = proposal.report(self.domain)
        needed = quorum - 1
        while len(attempt.signatures) < needed and self.clock() < deadline:
            waiting = [a for a in self.peers if a not in attempt.signatures
                       and attempt.refusals.get(a, "").split(":")[0] not in FINAL]
            if not waiting:
                break
            envelope = seal(self.account, "propose", proposal.as_dict(), self.domain, self.clock())
            answers = list(self._pool.map(self._ask, waiting, [envelope] * len(waiting),
                                          [report] * len(waiting)))
            for address, (signature, problem) in zip(waiting, answers, strict=True):
                if signature is not None:
                    attempt.signatures[address] = signature
                    attempt.refusals.pop(address, None)
                    attempt.unreachable.pop(address, None)
                elif problem.startswith("unreachable"):
                    attempt.unreachable[address] = problem
                else:
                    attempt.refusals[address] = problem
                    attempt.unreachable.pop(address, None)
            self.metrics.peers_reachable.set(len(self.peers) - len(attempt.unreachable))
            if len(attempt.signatures) < needed:
                time.sleep(self.retry_s)
        ref = f"committee:{self.domain.zone}:{proposal.round_id}"
        if len(attempt.signatures) < needed:
            attempt.outcome = "no-quorum"
            self.audit.append("committee.no_quorum", {
                "round_id": proposal.round_id, "signed_by": sorted(attempt.signatures),
                "refused": attempt.refusals, "unreachable": attempt.unreachable}, ref=ref)
            log.warning("round %d: %d of %d signatures before the timeout; refused: %s",
                        proposal.round_id, len(attempt.signatures) + 1, quorum,
                        attempt.refusals)
        else:
            chosen = sorted(attempt.signatures)[:needed]
            blob = signature_blob([attempt.signatures[a] for a in chosen])
            attempt.transmitted = transmit(report, blob)
            attempt.outcome = "transmitted" if attempt.transmitted else "already-queued"
            self.audit.append("committee.transmit", {
                "round_id": proposal.round_id, "signed_by": [self.account.address, *chosen],
                "proposal": proposal.as_dict(), "queued": attempt.transmitted}, ref=ref)
        self.metrics.rounds_led.labels(outcome=attempt.outcome).inc()
        return attempt

    def _endorse(self, proposal: Proposal, attempt: Attempt) -> Proposal | None:
        """This member's own signing policy on its proposal; a member that already signed
        another report for the round (a dead leader's) proposes that one instead."""
        _, decision = self.policy.decide(self.account.address, proposal.as_dict())
        if decision.signature is None and decision.code == "already-signed" and decision.signed:
            proposal = Proposal.from_dict(decision.signed)
            _, decision = self.policy.decide(self.account.address, proposal.as_dict())
        if decision.signature is None:
            attempt.outcome = f"self-refused:{decision.code}"
            attempt.refusals[self.account.address] = f"{decision.code}: {decision.reason}"
            return None
        return proposal

    def _ask(self, address: str, envelope: dict[str, Any], report: PriceReport
             ) -> tuple[bytes | None, str]:
        try:
            reply = self.client.ask(self.peers[address], envelope)
            opened = open_envelope(reply, self.domain, {address}, self.clock(),
                                   self.settings.max_message_age_s,
                                   kinds=("signature", "refusal"))
        except PeerUnreachable as err:
            return None, f"unreachable: {err}"
        except MessageRefused as err:
            return None, f"rejected: {err.reason}"
        body = opened.body if isinstance(opened.body, dict) else {}
        if opened.kind == "refusal":
            return None, f"{body.get('code')}: {body.get('reason')}"
        try:
            signature = bytes.fromhex(str(body["signature"]).removeprefix("0x"))
            signable = encode_typed_data(full_message=report.typed_data(self.domain.chain_id,
                                                                        self.domain.feed))
            signer = Account.recover_message(signable, signature=signature)
        except Exception as err:  # missing field, bad hex, bad signature: all one failure
            return None, f"bad-signature: {type(err).__name__}: {err}"
        if signer != address:
            return None, f"bad-signature: the report signature is {signer}'s, not {address}'s"
        return signature, ""

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

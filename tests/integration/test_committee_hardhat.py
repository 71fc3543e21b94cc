"""Issue 20 on loopback: four daemons (own SQLite file and key each), a hardhat node, quorum 2.

Each test deploys a fresh feed and starts four members whose price stages run at the start
of each 3-second interval; the leader rotates with the round id."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from committee_harness import (
    Committee4,
    feed_transactions,
    honest_answer,
    kill_at_transmit,
    on_chain,
    start_committee,
)

from oracle.store.audit import AuditLog

pytestmark = pytest.mark.hardhat


@pytest.fixture
def committee(hardhat_url: str, tmp_path: Path) -> Iterator[Committee4]:
    c = start_committee(hardhat_url, tmp_path)
    yield c
    c.close()


def _story(c: Committee4, round_id: int) -> str:
    """Every member's audit entries for the round: what went wrong, when a check fails."""
    return "\n".join(f"{m.address[:10]} {e.kind} {e.payload[:300]}" for m in c.members
                     for e in AuditLog(m.engine).list(ref=f"committee:zone-1:{round_id}"))


def _within_one_percent(answer: int | None) -> bool:
    return answer is not None and abs(answer - honest_answer()) <= honest_answer() // 100


def test_rounds_are_published_with_two_of_four_signatures(committee: Committee4) -> None:
    block = committee.w3.eth.block_number
    rounds = committee.upcoming_rounds(4)
    committee.run(rounds)
    txs = feed_transactions(committee, block)
    for r in rounds:
        assert _within_one_percent(on_chain(committee, r)), (r, on_chain(committee, r))
        landed = [(sender, status) for sender, rid, status in txs if rid == r]
        assert landed == [(committee.leader(r).address, 1)], _story(committee, r)
    for m in committee.members:  # every member led exactly one of the four rounds
        assert len(m.audit("committee.transmit")) == 1
        assert m.audit("committee.signed")
    metrics = committee.members[0].app.metrics.registry
    assert metrics.get_sample_value("oracle_committee_rounds_led_total",
                                    {"outcome": "transmitted"}) == 1
    assert metrics.get_sample_value("oracle_committee_signed_total") >= 4


def test_rounds_are_still_published_with_one_member_killed(committee: Committee4) -> None:
    rounds = committee.upcoming_rounds(4)
    dead = committee.leader(rounds[1])
    dead.kill()
    block = committee.w3.eth.block_number
    committee.run(rounds)
    txs = feed_transactions(committee, block)
    for r in rounds:
        assert _within_one_percent(on_chain(committee, r)), _story(committee, r)
        assert [status for _, rid, status in txs if rid == r] == [1], (r, txs)
    # the dead member's round went to the next in line
    assert [s for s, rid, _ in txs if rid == rounds[1]] == [committee.leader(rounds[1], 1).address]
    reachable = committee.leader(rounds[1], 1).app.metrics.registry.get_sample_value(
        "oracle_committee_peers_reachable")
    assert reachable == 2


@pytest.fixture
def with_liar(hardhat_url: str, tmp_path: Path) -> Iterator[Committee4]:
    c = start_committee(hardhat_url, tmp_path, skews={2: 1.2})  # member 2's book is 20% high
    yield c
    c.close()


def test_a_lying_member_never_lands_a_proposal_and_no_honest_member_signs_it(
        with_liar: Committee4) -> None:
    c = with_liar
    liar = c.members[2]
    block = c.w3.eth.block_number
    rounds = c.upcoming_rounds(4)
    c.run(rounds)
    txs = feed_transactions(c, block)
    liar_rounds = [r for r in rounds if c.leader(r) is liar]
    assert liar_rounds, "the liar leads one round of four"
    for r in rounds:
        assert _within_one_percent(on_chain(c, r)), (r, on_chain(c, r))
    assert liar.address not in {sender for sender, _, _ in txs}
    for honest in (m for m in c.members if m is not liar):
        signed_for_liar = [e for e in honest.audit("committee.signed")
                           if json.loads(e.payload)["from"] == liar.address]
        assert signed_for_liar == []
        refused = [json.loads(e.payload) for e in honest.audit("committee.refused")
                   if json.loads(e.payload)["from"] == liar.address]
        assert refused and all(p["code"] == "out-of-tolerance" for p in refused), refused
    assert any(json.loads(e.payload)["round_id"] == liar_rounds[0]
               for e in liar.audit("committee.no_quorum"))


def test_leader_killed_before_sending_next_leader_publishes_the_round_once(
        committee: Committee4) -> None:
    rounds = committee.upcoming_rounds(2)
    target = rounds[1]
    first, second = committee.leader(target, 0), committee.leader(target, 1)
    kill_at_transmit(first, after=False)
    block = committee.w3.eth.block_number
    committee.run(rounds)
    txs = feed_transactions(committee, block)
    assert [(s, st) for s, rid, st in txs if rid == target] == [(second.address, 1)]
    # the dead leader's report was signed by the others: the next leader sent that same report
    dead_report = json.loads(first.audit("committee.signed")[-1].payload)["proposal"]
    sent = json.loads(second.audit("committee.transmit")[-1].payload)["proposal"]
    assert sent == dead_report
    assert on_chain(committee, target) == round(dead_report["price"] * 10**8)


def test_leader_killed_after_sending_is_not_sent_again(committee: Committee4) -> None:
    rounds = committee.upcoming_rounds(2)
    target = rounds[1]
    first = committee.leader(target, 0)
    kill_at_transmit(first, after=True)
    block = committee.w3.eth.block_number
    committee.run(rounds)
    txs = feed_transactions(committee, block)
    assert Counter(rid for _, rid, _ in txs)[target] == 1
    assert [(s, st) for s, rid, st in txs if rid == target] == [(first.address, 1)]
    for m in committee.members:
        if m is not first:
            assert not [e for e in m.audit("committee.transmit")
                        if json.loads(e.payload)["round_id"] == target]

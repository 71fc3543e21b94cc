"""What the committee asks the feed: is a round still open (not on chain, not superseded)?"""

from __future__ import annotations

from web3.contract import Contract

from oracle.chain.effects import Effect, Finding, price_round

NO_ANSWER = -(2**200)  # outside int192: equal to no answer on chain


def round_finding(feed: Contract, round_id: int, answer: int) -> Finding:
    """LANDED (this answer is on chain), SUPERSEDED (other content or a newer round), ABSENT."""
    return price_round(feed, round_id, answer)


def round_open(feed: Contract, round_id: int) -> tuple[bool, str]:
    """Whether ``round_id`` can still be published, and if not why."""
    finding = price_round(feed, round_id, NO_ANSWER)
    return finding.effect is Effect.ABSENT, finding.detail

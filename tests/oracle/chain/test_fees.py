"""EIP-1559 fees: estimates from fee history, bumps of at least the configured percent, the cap."""

from __future__ import annotations

from web3 import EthereumTesterProvider, Web3

from oracle.chain.fees import GWEI, Fees, estimate


def test_bump_raises_both_fees_by_at_least_the_percent() -> None:
    old = Fees(max_fee=100 * GWEI, priority=2 * GWEI)
    new = old.bumped(12.5, cap=1000 * GWEI)
    assert new.max_fee >= old.max_fee * 1.125 and new.priority >= old.priority * 1.125


def test_bump_never_exceeds_the_cap_and_tiny_fees_still_move() -> None:
    assert Fees(100, 1).bumped(12.5, cap=105).max_fee == 105
    assert Fees(1, 1).bumped(12.5, cap=10**9) == Fees(2, 2)


def test_estimate_on_a_fresh_chain_uses_the_base_fee_and_respects_the_cap() -> None:
    w3 = Web3(EthereumTesterProvider())
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    fees = estimate(w3, cap_wei=500 * GWEI)
    assert fees.max_fee == 2 * base + GWEI and fees.priority == GWEI
    capped = estimate(w3, cap_wei=base)
    assert capped.max_fee == base and capped.priority <= capped.max_fee

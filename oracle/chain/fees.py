"""EIP-1559 fees from the node's fee history, capped by ``max_fee_per_gas_gwei``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from web3 import Web3

GWEI = 10**9
DEFAULT_PRIORITY_WEI = 1 * GWEI
HISTORY_BLOCKS = 10
REWARD_PERCENTILE = 50


@dataclass(frozen=True)
class Fees:
    """maxFeePerGas and maxPriorityFeePerGas, in wei."""

    max_fee: int
    priority: int

    def bumped(self, percent: float, cap: int) -> Fees:
        """Both fees raised by at least ``percent`` (rounded up), the max fee capped."""
        factor = 1 + percent / 100
        priority = max(math.ceil(self.priority * factor), self.priority + 1)
        max_fee = max(math.ceil(self.max_fee * factor), self.max_fee + 1)
        return Fees(max_fee=min(max_fee, cap), priority=min(priority, cap))


def estimate(w3: Web3, cap_wei: int) -> Fees:
    """Priority fee: median reward of recent blocks (1 gwei if none); max fee: 2 x base + tip."""
    history = w3.eth.fee_history(HISTORY_BLOCKS, "latest", [REWARD_PERCENTILE])
    rewards = sorted(r[0] for r in history.get("reward", []) if r and r[0] > 0)
    priority = rewards[len(rewards) // 2] if rewards else DEFAULT_PRIORITY_WEI
    base_fees = history.get("baseFeePerGas", [])
    base = base_fees[-1] if base_fees else w3.eth.get_block("latest").get("baseFeePerGas", 0)
    max_fee = min(2 * int(base) + priority, cap_wei)
    return Fees(max_fee=max_fee, priority=min(priority, max_fee))


def replacement(old: Fees, market: Fees, percent: float, cap: int) -> Fees | None:
    """Fees that replace ``old`` at the same nonce: both raised by at least ``percent`` (nodes
    refuse less), at least the market's, within ``cap``; None when the cap leaves no room."""
    bumped = old.bumped(percent, cap)
    max_fee = min(max(bumped.max_fee, market.max_fee), cap)
    priority = min(max(bumped.priority, market.priority), max_fee)
    factor = 1 + percent / 100
    if max_fee < math.ceil(old.max_fee * factor) or priority < math.ceil(old.priority * factor):
        return None
    return Fees(max_fee=max_fee, priority=priority)


def above(market: Fees, others: list[Fees], percent: float, cap: int) -> Fees:
    """The market's fees, raised (within ``cap``) to replace any of ``others`` at the nonce."""
    if not others:
        return market
    top = Fees(max(f.max_fee for f in others), max(f.priority for f in others))
    bumped = top.bumped(percent, cap)
    max_fee = min(max(bumped.max_fee, market.max_fee), cap)
    return Fees(max_fee=max_fee, priority=min(max(bumped.priority, market.priority), max_fee))

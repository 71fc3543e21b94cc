"""Who leads a round: deterministic, rotating with the round id, the next in line after a timeout.

Members are ordered by address, so every member computes the same order whatever order its
configuration lists them in. Attempt ``k`` of round ``r`` is led by member ``(r + k) mod n`` and
begins ``k * leader_timeout_s`` after the round's interval starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LeaderSchedule:
    members: tuple[str, ...]  # checksum addresses, sorted
    timeout_s: float

    @classmethod
    def of(cls, addresses: Sequence[str], timeout_s: float) -> LeaderSchedule:
        if not addresses:
            raise ValueError("a leader schedule needs at least one member")
        return cls(tuple(sorted(addresses, key=str.lower)), timeout_s)

    def leader(self, round_id: int, attempt: int = 0) -> str:
        return self.members[(round_id + attempt) % len(self.members)]

    def attempt(self, round_start: float, now: float) -> int:
        """The attempt under way at ``now`` (0 before and during the first timeout)."""
        return max(0, math.floor((now - round_start) / self.timeout_s))

    def attempt_start(self, round_start: float, attempt: int) -> float:
        return round_start + attempt * self.timeout_s

    def may_lead(self, member: str, round_id: int, round_start: float, now: float) -> bool:
        """Whether ``member`` leads an attempt of the round that has begun by ``now``."""
        current = self.attempt(round_start, now)
        return any(self.leader(round_id, k) == member
                   for k in range(min(current, len(self.members) - 1) + 1))

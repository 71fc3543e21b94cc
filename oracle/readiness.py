"""What ``/readyz`` reports: named dependency probes, the age of the last successful tick, and
what the daemon runs without. Plain data, so that wiring it needs no web framework."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from oracle.redact import redact

Check = Callable[[], None]  # raises when the dependency is not reachable


@dataclass
class Readiness:
    """What /readyz checks: named dependency probes and the age of the last successful tick."""

    checks: dict[str, Check] = field(default_factory=dict)
    max_tick_age_s: float | None = None
    last_tick: float | None = None  # unix time
    started: float = field(default_factory=time.time)
    degraded: dict[str, str] = field(default_factory=dict)  # still ready, running without: why

    def tick_done(self) -> None:
        self.last_tick = time.time()

    def evaluate(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as err:  # any failure means not ready
                results[name] = redact(f"failing: {type(err).__name__}: {err}")[:300]
        if self.max_tick_age_s is not None:
            reference = self.last_tick if self.last_tick is not None else self.started
            age = time.time() - reference
            if age > self.max_tick_age_s:
                what = "last successful tick" if self.last_tick is not None else "no tick yet, started"
                results["tick"] = f"stale: {what} {age:.0f}s ago (bound {self.max_tick_age_s:.0f}s)"
            else:
                results["tick"] = "ok"
        return all(v == "ok" for v in results.values()), results

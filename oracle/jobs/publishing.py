"""The push stage: results for T back to the backend, keyed by report id (store -> backend)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from oracle.chain.reports import (
    report_id,
)
from oracle.sources.client import BackendClient
from oracle.store import results
from oracle.store.engine import session_scope


@dataclass(frozen=True)
class PushParts:
    """What the push stage uses: the store it reads, the backend it posts to, the zone."""

    engine: Engine
    backend: BackendClient
    zone: str  # pricing.zone


def push(parts: PushParts, start: datetime) -> dict[str, Any]:
    """Results for T back to the backend; the report id is the idempotency key."""
    zone = parts.zone
    pushed = 0
    with session_scope(parts.engine) as session:
        round_ = results.price_round(session, zone, start)
        forecasts = results.forecast_frame(session, target="demand", entity_id=zone, origin=start)
    if round_ is not None:
        parts.backend.post_result("prices", {"zone": zone, "interval_start": start.isoformat(),
                                           "price": round_.price, "volume_kwh": round_.volume_kwh},
                                report_id("price", zone, start))
        pushed += 1
    if not forecasts.empty:
        parts.backend.post_result("forecasts", {
            "zone": zone, "origin": start.isoformat(),
            "items": [{"ts": pd.Timestamp(t).isoformat(), "mean": m}
                      for t, m in zip(forecasts["ts"], forecasts["mean"], strict=True)]},
            report_id("forecast", zone, start))
        pushed += 1
    return {"pushed": pushed}

"""What the stages share: the horizons, the tick's outcome, the outbox hand-off and the
zone's hourly series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from oracle.chain.reports import ChainCall

if TYPE_CHECKING:
    from oracle.chain.txmanager import TxManager


TICK_STREAM = "daemon.tick"


FORECAST_HOURS = 24


HISTORY = timedelta(days=28)


DETECTION_HISTORY = timedelta(days=7)


@dataclass
class TickOutcome:
    """What one tick did, stage by stage (the demo prints it; the audit log keeps it)."""

    interval_start: datetime
    stages: dict[str, str] = field(default_factory=dict)  # stage -> ok / skipped: reason
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time


def queue(txm: TxManager | None, rid: str, kind: str, call: ChainCall,
          interval_start: datetime) -> bool:
    """Hand a report to the transaction manager's outbox (False without a chain)."""
    if txm is None:
        return False
    return txm.queue(rid, kind, call.contract, call.fn_name, call.args, interval_start,
                         call.payload)


def hourly(frame: pd.DataFrame, column: str, since: datetime, until: datetime) -> pd.Series:
    """Zone total of ``column`` per hour on a regular index (missing hours interpolated)."""
    index = pd.date_range(since, until, freq="h", inclusive="left", tz=UTC)
    if frame.empty:
        return pd.Series(np.nan, index=index, name=column)
    series = frame.groupby("ts")[column].sum().reindex(index)
    return series.interpolate(limit_direction="both")

"""Solar repository on SQLite and PostgreSQL: production read back for many meters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from oracle.store.engine import session_scope
from oracle.store.readings import upsert_readings
from oracle.store.solar import production_by_meter

T0 = datetime(2026, 1, 5, tzinfo=UTC)
H = timedelta(hours=1)
FLEET = 70_000  # meters: past SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


@pytest.mark.slow
def test_production_by_meter_of_a_fleet_past_the_drivers_parameter_limits(
        strict_engine: Engine) -> None:
    ids = [f"m{i:05d}" for i in range(FLEET)]
    producing = ids[::9_999]  # one in each chunk, the last chunk included
    with session_scope(strict_engine) as s:
        upsert_readings(s, [{"meter_id": m, "ts": T0 + h * H, "consumption_kwh": 0.0,
                             "production_kwh": n + h / 10} for n, m in enumerate(producing)
                            for h in range(3)]
                        + [{"meter_id": "other", "ts": T0, "consumption_kwh": 0.0,
                            "production_kwh": 9.0}])
    with session_scope(strict_engine) as s:
        frame = production_by_meter(s, ids, T0, T0 + 2 * H)  # the hour at T0 + 2 H is out
    assert list(frame.columns) == producing
    assert list(frame.index) == [pd.Timestamp(T0), pd.Timestamp(T0 + H)]
    assert frame.to_dict("list") == {m: [n, n + 0.1] for n, m in enumerate(producing)}

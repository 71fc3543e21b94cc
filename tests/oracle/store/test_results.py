"""Results repository on SQLite and PostgreSQL: forecasts read back for many entities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from oracle.store.engine import session_scope
from oracle.store.results import latest_forecasts
from oracle.store.tables import ForecastRow
from oracle.store.upsert import upsert

T0 = datetime(2026, 1, 5, tzinfo=UTC)
H = timedelta(hours=1)
FLEET = 70_000  # meters: past SQLite's 32,766 and PostgreSQL's 65,535 bound parameters


def _step(entity_id: str, origin: datetime, ts: datetime, mean: float) -> dict[str, object]:
    return {"target": "demand", "entity_id": entity_id, "origin": origin, "ts": ts,
            "mean": mean, "lo_80": mean - 1, "hi_80": mean + 1, "lo_95": None, "hi_95": None,
            "model": "m", "created_at": T0}


@pytest.mark.slow
def test_latest_forecasts_of_a_fleet_past_the_drivers_parameter_limits(
        strict_engine: Engine) -> None:
    ids = [f"m{i:05d}" for i in range(FLEET)]
    older = [_step(m, T0, T0 + H, 1.0) for m in ids[::9_999]]  # one in each chunk
    newest = [_step(m, T0 + H, T0 + h * H, float(h)) for m in (ids[-1], ids[45_000])
              for h in (3, 2)]
    elsewhere = [_step("other", T0 + 2 * H, T0 + 3 * H, 9.0)]  # not asked for
    with session_scope(strict_engine) as s:
        upsert(s, ForecastRow, older + newest + elsewhere,
               key=("target", "entity_id", "origin", "ts"))
    with session_scope(strict_engine) as s:
        frame = latest_forecasts(s, target="demand", entity_ids=ids)
    assert list(frame.columns) == ["entity_id", "origin", "ts", "mean", "lo_80", "hi_80",
                                   "lo_95", "hi_95", "model"]
    # the newest origin any of them has (in two late chunks), steps ordered by ts, entity
    assert list(zip(frame["entity_id"], frame["ts"], frame["mean"], strict=True)) == [
        (ids[45_000], pd.Timestamp(T0 + 2 * H), 2.0), (ids[-1], pd.Timestamp(T0 + 2 * H), 2.0),
        (ids[45_000], pd.Timestamp(T0 + 3 * H), 3.0), (ids[-1], pd.Timestamp(T0 + 3 * H), 3.0)]
    assert set(frame["origin"]) == {pd.Timestamp(T0 + H)}
    assert str(frame["ts"].dt.tz) == "UTC" and frame["lo_95"].isna().all()

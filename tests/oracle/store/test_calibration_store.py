"""The calibration repository on SQLite and PostgreSQL: one row per series, read by target."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from oracle.store.calibration import calibrations, load_calibration, save_calibration
from oracle.store.engine import session_scope

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def test_calibrations_of_a_target_are_every_series_of_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert calibrations(session, "demand") == []
        save_calibration(session, "demand", "zone-1", {"bias": 0.1}, T0)
        save_calibration(session, "demand", "n1", {"bias": 0.2}, None)
        save_calibration(session, "solar", "zone-1", {"bias": 0.3}, T0)
    with session_scope(engine) as session:
        save_calibration(session, "demand", "zone-1", {"bias": 0.4}, T0)  # replaced, not added
    with session_scope(engine) as session:
        assert sorted((c.entity_id, c.state["bias"]) for c in calibrations(session, "demand")) \
            == [("n1", 0.2), ("zone-1", 0.4)]
        assert [c.entity_id for c in calibrations(session, "solar")] == ["zone-1"]
        stored = load_calibration(session, "solar", "zone-1")
        assert stored is not None and stored.state == {"bias": 0.3}

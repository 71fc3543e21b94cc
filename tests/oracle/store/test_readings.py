from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from oracle.store.engine import session_scope
from oracle.store.readings import consumption_rows, upsert_readings
from oracle.store.tables import Reading

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _rows(meters: int, hours: int, value: float) -> list[dict]:
    return [{"meter_id": f"m{m}", "ts": T0 + timedelta(hours=h), "consumption_kwh": value,
             "production_kwh": 0.0} for m in range(meters) for h in range(hours)]


def test_upsert_is_idempotent_and_last_value_wins(engine) -> None:
    with session_scope(engine) as s:
        assert upsert_readings(s, _rows(3, 4, 1.0)) == 12
    with session_scope(engine) as s:
        upsert_readings(s, _rows(3, 4, 1.0))
        upsert_readings(s, _rows(1, 2, 2.5))
    with session_scope(engine) as s:
        assert s.exec(select(func.count()).select_from(Reading)).one() == 12
        values = {(r.meter_id, r.ts.replace(tzinfo=UTC)): r.consumption_kwh
                  for r in s.exec(select(Reading))}
    assert values[("m0", T0)] == 2.5 and values[("m2", T0)] == 1.0


def test_failed_batch_leaves_stored_rows_intact(engine) -> None:
    with session_scope(engine) as s:
        upsert_readings(s, _rows(2, 2, 1.0))
    bad = [*_rows(2, 2, 9.0), {"meter_id": "m9", "ts": None, "consumption_kwh": 1.0}]
    with pytest.raises(IntegrityError), session_scope(engine) as s:
        upsert_readings(s, bad)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM readings")).scalar_one() == 4
        assert conn.execute(text("SELECT MAX(consumption_kwh) FROM readings")).scalar_one() == 1.0


WRITER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime, timedelta
    from oracle.store.engine import make_engine, session_scope
    from oracle.store.readings import upsert_readings
    url, offset, value = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    engine = make_engine(url)
    for batch in range(10):
        rows = [{"meter_id": f"m{m}", "ts": t0 + timedelta(hours=offset + batch * 10 + h),
                 "consumption_kwh": value} for m in range(20) for h in range(30)]
        with session_scope(engine) as s:
            upsert_readings(s, rows)
""")


def test_two_processes_upserting_overlapping_readings(engine, db_url) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, str(off), str(val)],
                              stderr=subprocess.PIPE, text=True)
             for off, val in ((0, 1.0), (15, 2.0))]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with engine.connect() as conn:
        total = conn.execute(text("SELECT COUNT(*) FROM readings")).scalar_one()
        distinct = conn.execute(text(
            "SELECT COUNT(*) FROM (SELECT DISTINCT meter_id, ts FROM readings) d")).scalar_one()
    # writer A covers hours 0..119, writer B 15..134: 135 distinct hours x 20 meters
    assert total == distinct == 135 * 20


@pytest.mark.slow
def test_upsert_of_a_fleet_past_the_drivers_parameter_limits(strict_engine) -> None:
    fleet = 70_000  # rows x 5 columns: far past SQLite's 32,766 and PostgreSQL's 65,535
    with session_scope(strict_engine) as s:
        assert upsert_readings(s, _rows(fleet, 1, 1.0)) == fleet
    with session_scope(strict_engine) as s:
        assert upsert_readings(s, _rows(fleet, 1, 2.0)) == fleet
    with session_scope(strict_engine) as s:
        assert s.exec(select(func.count()).select_from(Reading)).one() == fleet
        assert s.exec(select(func.min(Reading.consumption_kwh))).one() == 2.0


def test_consumption_rows_are_every_readings_time_and_consumption(engine) -> None:
    with session_scope(engine) as s:
        assert consumption_rows(s) == []
        upsert_readings(s, [*_rows(2, 2, 1.5), {"meter_id": "m9", "ts": T0,
                                                "consumption_kwh": 4.0, "production_kwh": 2.0}])
    with session_scope(engine) as s:
        rows = sorted((ts.replace(tzinfo=UTC), kwh) for ts, kwh in consumption_rows(s))
    assert rows == [(T0, 1.5), (T0, 1.5), (T0, 4.0), (T0 + timedelta(hours=1), 1.5),
                    (T0 + timedelta(hours=1), 1.5)]

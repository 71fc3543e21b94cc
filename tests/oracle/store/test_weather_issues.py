"""Weather forecast issues are kept apart from the observations, on SQLite and PostgreSQL, and
the weather "as known" at a forecast origin picks the issue the daemon had then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import MetaData, Table, text
from sqlalchemy.engine import Engine

from oracle.store import ingestion as repo
from oracle.store import solar
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import check_schema, downgrade, upgrade

T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
H = timedelta(hours=1)
PLACE = "39.70,-105.20"


def hour(ts: datetime, ghi: float) -> dict[str, object]:
    return {"location": PLACE, "ts": ts, "temperature_2m": 20.0, "shortwave_radiation": ghi}


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_two_issues_and_the_observation_of_one_hour_are_all_kept(engine: Engine) -> None:
    target = T0 + 6 * H
    repo.upsert_weather(engine, [hour(target, 300.0)], issued_at=T0)          # day-ahead-ish
    repo.upsert_weather(engine, [hour(target, 500.0)], issued_at=T0 + 3 * H)  # a later issue
    repo.upsert_weather(engine, [hour(target, 650.0)], issued_at=T0 + 8 * H)  # it happened
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT issued_at, shortwave_radiation FROM "
                                   "weather_forecasts ORDER BY issued_at")).all()
        observed = conn.execute(text("SELECT shortwave_radiation FROM weather")).scalars().all()
    assert [ghi for _, ghi in stored] == [300.0, 500.0] and observed == [650.0]
    # fetching the same issue again (a re-run pass) duplicates nothing and keeps its values
    for _ in range(2):
        repo.upsert_weather(engine, [hour(target, 500.0), hour(target + H, 510.0)],
                            issued_at=T0 + 3 * H)
        repo.upsert_weather(engine, [hour(target, 650.0)], issued_at=T0 + 8 * H)
    assert (count(engine, "weather_forecasts"), count(engine, "weather")) == (3, 1)


def test_history_hours_get_the_newest_issue_made_by_their_start(engine: Engine) -> None:
    """An hour is trained on the newest issue made at least an hour before its stamp; an hour
    no issue covers falls back to its observation, marked by a missing issued_at."""
    issues = {T0: 100.0, T0 + 2 * H: 200.0, T0 + 4 * H: 400.0}
    for issued, ghi in issues.items():
        repo.upsert_weather(engine, [hour(issued + k * H, ghi) for k in range(1, 25)],
                            issued_at=issued)
    repo.upsert_weather(engine, [hour(T0 - 2 * H + k * H, 999.0) for k in range(8)])
    origin = T0 + 5 * H
    with session_scope(engine) as session:
        wx = solar.weather_as_known(session, PLACE, T0 - 2 * H, origin + 3 * H, origin)
    ghi = wx["shortwave_radiation"]
    # no issue covers T0 - 1 h and T0: observed; T0+1..+2 from the issue made at T0, T0+3..+4
    # from T0+2 (made by their start), T0+5 from T0+4; after the origin the newest issue
    assert ghi[T0 - H] == ghi[T0] == 999.0
    assert pd.isna(wx["issued_at"][T0]) and wx["issued_at"][T0 + H] == pd.Timestamp(T0)
    assert [ghi[T0 + k * H] for k in range(1, 9)] == [100, 100, 200, 200, 400, 400, 400, 400]
    assert wx.index.is_monotonic_increasing and wx.index.is_unique
    # a later issue (made after the origin) is not seen from this origin
    repo.upsert_weather(engine, [hour(origin + H, 777.0)], issued_at=origin + 0.5 * H)
    with session_scope(engine) as session:
        again = solar.weather_as_known(session, PLACE, T0 - 2 * H, origin + 3 * H, origin)
    pd.testing.assert_frame_equal(again, wx)


def test_an_origin_without_any_weather_gets_an_empty_frame(engine: Engine) -> None:
    with session_scope(engine) as session:
        wx = solar.weather_as_known(session, PLACE, T0, T0 + 24 * H, T0)
    assert wx.empty and "issued_at" in wx.columns


def test_the_migration_moves_stored_issues_and_goes_back(db_url: str) -> None:
    """0005 moves the rows that carried an issued_at to weather_forecasts; downgrading puts the
    newest issue of each hour without an observation back into weather."""
    engine = make_engine(db_url)
    upgrade(engine, "0004")
    with engine.begin() as conn:  # typed columns: stamps stored as the store writes them
        weather = Table("weather", MetaData(), autoload_with=conn)
        conn.execute(weather.insert(), [
            {"location": PLACE, "ts": T0 - 2 * H, "shortwave_radiation": 50.0,
             "issued_at": None, "ingested_at": T0},
            {"location": PLACE, "ts": T0 + H, "shortwave_radiation": 300.0, "issued_at": T0,
             "ingested_at": T0}])
    upgrade(engine)
    check_schema(engine)
    assert (count(engine, "weather"), count(engine, "weather_forecasts")) == (1, 1)
    repo.upsert_weather(engine, [hour(T0 + H, 320.0)], issued_at=T0 - H)  # an older issue
    downgrade(engine, "0004")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT shortwave_radiation, issued_at IS NULL FROM weather "
                                 "ORDER BY ts")).all()
    assert [(g, bool(null)) for g, null in rows] == [(50.0, True), (300.0, False)]
    upgrade(engine)
    check_schema(engine)

"""Solar repository: the prosumers' PV, their production per meter and the weather where they are.

Frames for ``models.solar.fleet``: one row per PV meter (stated size and place), production as a
(time x meter) frame stamped at the interval's start like every reading, and the stored hourly
weather of one location (its values are means over the hour ending at the stamp).

Weather "as known" at a forecast origin (:func:`weather_as_known`) follows one rule, so the
models are fitted on the weather the daemon had when it forecast, not on what came later:

- an hour after the origin gets the newest forecast issue made at or before the origin;
- an hour up to the origin (history) gets the newest issue made at least ``lead`` (1 h) before
  the hour's stamp, i.e. no later than the hour's start: the issue the daemon had when that
  hour was next to be forecast. Hours stamped ``ts`` are means over ``(ts - 1 h, ts]``;
- a history hour no issue covers falls back to the stored observation, and says so
  (``issued_at`` NaT).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from oracle.store.chunks import chunks
from oracle.store.tables import Meter, Reading, WeatherForecast, WeatherObservation

WEATHER_COLUMNS = ("temperature_2m", "shortwave_radiation", "direct_normal_irradiance",
                   "diffuse_radiation", "wind_speed_10m", "cloud_cover")
ISSUE_LEAD = timedelta(hours=1)  # a history hour is trained on an issue made by its start


def pv_meters(session: Session) -> pd.DataFrame:
    """Meters with PV (pv_kwp > 0): meter_id, pv_kwp, lat, lon (lat/lon may be missing)."""
    query = (sa_select(col(Meter.meter_id), col(Meter.pv_kwp), col(Meter.lat), col(Meter.lon))
             .where(col(Meter.pv_kwp) > 0).order_by(col(Meter.meter_id)))
    return pd.DataFrame(session.execute(query).all(), columns=["meter_id", "pv_kwp", "lat", "lon"])


def production_by_meter(session: Session, meter_ids: list[str], since: datetime,
                        until: datetime) -> pd.DataFrame:
    """Production kWh in [since, until): index the UTC interval start, one column per meter.
    Read a chunk of meters per statement."""
    if not meter_ids:
        return pd.DataFrame()
    found = [row for chunk in chunks(meter_ids) for row in session.execute(
        sa_select(col(Reading.meter_id), col(Reading.ts), col(Reading.production_kwh))
        .where(col(Reading.meter_id).in_(chunk), col(Reading.ts) >= since,
               col(Reading.ts) < until))]
    rows = pd.DataFrame(found, columns=["meter_id", "ts", "kwh"])
    if rows.empty:
        return pd.DataFrame(columns=meter_ids)
    rows["ts"] = pd.to_datetime(rows["ts"], utc=True)
    return rows.pivot(index="ts", columns="meter_id", values="kwh").sort_index()


def weather_at(session: Session, location: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Stored observed hourly weather of ``location`` with stamps in (since, until], UTC-indexed."""
    columns = [getattr(WeatherObservation, c) for c in WEATHER_COLUMNS]
    query = (sa_select(col(WeatherObservation.ts), *columns)
             .where(col(WeatherObservation.location) == location,
                    col(WeatherObservation.ts) > since, col(WeatherObservation.ts) <= until)
             .order_by(col(WeatherObservation.ts)))
    frame = pd.DataFrame(session.execute(query).all(), columns=["ts", *WEATHER_COLUMNS])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.set_index("ts").dropna(axis=1, how="all")


def issued_weather(session: Session, location: str, since: datetime, until: datetime,
                   origin: datetime, lead: timedelta = ISSUE_LEAD) -> pd.DataFrame:
    """For each stamp in (since, until] the newest forecast issue made no later than the
    earlier of ``origin`` and ``stamp - lead``: UTC-indexed, the weather columns and
    ``issued_at``; stamps no such issue covers are left out."""
    columns = [getattr(WeatherForecast, c) for c in WEATHER_COLUMNS]
    query = (sa_select(col(WeatherForecast.ts), col(WeatherForecast.issued_at), *columns)
             .where(col(WeatherForecast.location) == location,
                    col(WeatherForecast.ts) > since, col(WeatherForecast.ts) <= until,
                    col(WeatherForecast.issued_at) <= origin))
    rows = pd.DataFrame(session.execute(query).all(),
                        columns=["ts", "issued_at", *WEATHER_COLUMNS])
    for name in ("ts", "issued_at"):
        rows[name] = pd.to_datetime(rows[name], utc=True)
    rows = rows[rows["issued_at"] <= rows["ts"] - lead]
    newest = rows.sort_values(["ts", "issued_at"]).groupby("ts").tail(1)
    return newest.set_index("ts").sort_index()


def weather_as_known(session: Session, location: str, since: datetime, until: datetime,
                     origin: datetime, lead: timedelta = ISSUE_LEAD) -> pd.DataFrame:
    """The weather of ``location`` for stamps in (since, until] as the daemon knew it at
    ``origin`` (the rule in the module docstring): UTC-indexed weather columns (all-missing
    ones dropped) and ``issued_at``, NaT where a history hour fell back to its observation."""
    issued = issued_weather(session, location, since, until, origin, lead)
    observed = weather_at(session, location, since, min(until, origin))
    observed = observed.loc[~observed.index.isin(issued.index)].assign(issued_at=pd.NaT)
    parts = [p for p in (issued, observed) if not p.empty]
    if not parts:
        return pd.DataFrame(columns=[*WEATHER_COLUMNS, "issued_at"],
                            index=pd.DatetimeIndex([], tz="UTC", name="ts"))
    frame = pd.concat(parts).sort_index()
    frame["issued_at"] = pd.to_datetime(frame["issued_at"], utc=True)
    weather = frame.drop(columns="issued_at").dropna(axis=1, how="all")
    return weather.assign(issued_at=frame["issued_at"])

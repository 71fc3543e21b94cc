"""Solar repository: the prosumers' PV, their production per meter and the weather where they are.

Frames for ``models.solar.fleet``: one row per PV meter (stated size and place), production as a
(time x meter) frame stamped at the interval's start like every reading, and the stored hourly
weather of one location (its values are means over the hour ending at the stamp).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from oracle.store.tables import Meter, Reading, WeatherObservation

WEATHER_COLUMNS = ("temperature_2m", "shortwave_radiation", "direct_normal_irradiance",
                   "diffuse_radiation", "wind_speed_10m", "cloud_cover")


def pv_meters(session: Session) -> pd.DataFrame:
    """Meters with PV (pv_kwp > 0): meter_id, pv_kwp, lat, lon (lat/lon may be missing)."""
    query = (sa_select(col(Meter.meter_id), col(Meter.pv_kwp), col(Meter.lat), col(Meter.lon))
             .where(col(Meter.pv_kwp) > 0).order_by(col(Meter.meter_id)))
    return pd.DataFrame(session.execute(query).all(), columns=["meter_id", "pv_kwp", "lat", "lon"])


def production_by_meter(session: Session, meter_ids: list[str], since: datetime,
                        until: datetime) -> pd.DataFrame:
    """Production kWh in [since, until): index the UTC interval start, one column per meter."""
    if not meter_ids:
        return pd.DataFrame()
    query = (sa_select(col(Reading.meter_id), col(Reading.ts), col(Reading.production_kwh))
             .where(col(Reading.meter_id).in_(meter_ids), col(Reading.ts) >= since,
                    col(Reading.ts) < until))
    rows = pd.DataFrame(session.execute(query).all(), columns=["meter_id", "ts", "kwh"])
    if rows.empty:
        return pd.DataFrame(columns=meter_ids)
    rows["ts"] = pd.to_datetime(rows["ts"], utc=True)
    return rows.pivot(index="ts", columns="meter_id", values="kwh").sort_index()


def weather_at(session: Session, location: str, since: datetime, until: datetime) -> pd.DataFrame:
    """Stored hourly weather of ``location`` with stamps in (since, until], UTC-indexed."""
    columns = [getattr(WeatherObservation, c) for c in WEATHER_COLUMNS]
    query = (sa_select(col(WeatherObservation.ts), *columns)
             .where(col(WeatherObservation.location) == location,
                    col(WeatherObservation.ts) > since, col(WeatherObservation.ts) <= until)
             .order_by(col(WeatherObservation.ts)))
    frame = pd.DataFrame(session.execute(query).all(), columns=["ts", *WEATHER_COLUMNS])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.set_index("ts").dropna(axis=1, how="all")

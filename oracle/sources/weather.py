"""Client of an Open-Meteo-compatible weather endpoint (``/v1/forecast``): hourly, past and future."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType

import httpx

from oracle.config import WeatherSettings
from oracle.errors import SourceDataInvalid
from oracle.sources.http import DEFAULT_MAX_BYTES, JsonHttp, RetryPolicy
from oracle.sources.schemas import (
    TIME_MAX,
    TIME_MIN,
    WEATHER_VARIABLES,
    WeatherEnvelope,
    validate_document,
)
from oracle.textsafe import printable


@dataclass(frozen=True)
class WeatherHour:
    """One hour of weather at a location (UTC); None where the service has no value."""

    location: str
    ts: datetime
    values: dict[str, float | None]

    def as_row(self) -> dict[str, object]:
        return {"location": self.location, "ts": self.ts, **self.values}


def weather_point(lat: float, lon: float) -> tuple[float, float]:
    """The point whose weather serves a meter: its place rounded to 0.1 degree (about 10 km)."""
    return round(lat, 1), round(lon, 1)


def location_key(lat: float, lon: float) -> str:
    """The store's location key: latitude and longitude rounded to 2 decimals (about 1 km)."""
    return f"{lat:.2f},{lon:.2f}"


class WeatherClient:
    """Hourly weather for a point and a UTC date range."""

    def __init__(self, settings: WeatherSettings, *, transport: httpx.BaseTransport | None = None,
                 retries: int = 2, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.settings = settings
        self._http = JsonHttp(settings.url, name="weather", timeout_s=settings.timeout_s,
                              policy=RetryPolicy(retries=retries), max_bytes=max_bytes,
                              headers={"Accept": "application/json"}, transport=transport,
                              sleep=sleep, rng=rng, body_retries=1)

    def __enter__(self) -> WeatherClient:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def hourly(self, lat: float, lon: float, start: datetime, end: datetime) -> list[WeatherHour]:
        """Hours from ``start`` up to ``end`` (both UTC), past or forecast."""
        params = {"latitude": f"{lat:.4f}", "longitude": f"{lon:.4f}",
                  "hourly": ",".join(WEATHER_VARIABLES), "timezone": "UTC",
                  "start_date": start.astimezone(UTC).date().isoformat(),
                  "end_date": end.astimezone(UTC).date().isoformat()}
        raw = self._http.request("GET", "/v1/forecast", params=params)
        envelope = validate_document(WeatherEnvelope, raw, source="weather")
        hours = _to_hours(envelope, location_key(lat, lon))
        return [h for h in hours if start <= h.ts < end]


def _to_hours(envelope: WeatherEnvelope, location: str) -> list[WeatherHour]:
    """Columns to rows; Open-Meteo gives local wall times plus ``utc_offset_seconds``."""
    hourly = envelope.hourly
    offset = timedelta(seconds=envelope.utc_offset_seconds)
    columns = {name: getattr(hourly, name) for name in WEATHER_VARIABLES}
    for name, column in columns.items():
        if column is not None and len(column) != len(hourly.time):
            raise SourceDataInvalid(
                f"weather: hourly.{name} has {len(column)} values for {len(hourly.time)} times",
                field=f"hourly.{name}", value=len(column))
    hours = []
    for row, text in enumerate(hourly.time):
        try:
            local = datetime.fromisoformat(text)
            ts = local.astimezone(UTC) if local.tzinfo else (local - offset).replace(tzinfo=UTC)
        except (ValueError, OverflowError) as err:
            raise SourceDataInvalid(f"weather: hourly.time[{row}] = {printable(text, 40)} is not "
                                    "a time", field="hourly.time", row=row,
                                    value=printable(text, 40)) from err
        if not TIME_MIN <= ts < TIME_MAX:
            raise SourceDataInvalid(f"weather: hourly.time[{row}] = {printable(text, 40)} is "
                                    f"outside {TIME_MIN.year}..{TIME_MAX.year}",
                                    field="hourly.time", row=row, value=printable(text, 40))
        values = {n: (None if c is None else c[row]) for n, c in columns.items()}
        hours.append(WeatherHour(location, ts, values))
    return hours

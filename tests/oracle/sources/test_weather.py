"""WeatherClient against httpx.MockTransport: Open-Meteo columns to UTC rows, bad payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from oracle.config import WeatherSettings
from oracle.errors import SourceDataInvalid, SourceUnavailable
from oracle.sources.schemas import WEATHER_VARIABLES
from oracle.sources.weather import WeatherClient

START = datetime(2024, 6, 1, tzinfo=UTC)
END = datetime(2024, 6, 1, 3, tzinfo=UTC)


def body(times: list[str], offset: int = 0, **columns: list[object]) -> dict[str, object]:
    hourly: dict[str, object] = {"time": times}
    for name in WEATHER_VARIABLES:
        hourly[name] = columns.get(name, [1.0] * len(times))
    return {"latitude": 52.5, "longitude": 13.4, "utc_offset_seconds": offset,
            "timezone": "GMT", "hourly": hourly}


def client(payload: object, requests: list[httpx.Request] | None = None) -> WeatherClient:
    def handler(request: httpx.Request) -> httpx.Response:
        (requests if requests is not None else []).append(request)
        return httpx.Response(200, content=json.dumps(payload).encode(),
                              headers={"content-type": "application/json"})

    return WeatherClient(WeatherSettings(url="http://127.0.0.1:9"),
                         transport=httpx.MockTransport(handler), sleep=lambda s: None)


def test_hours_come_back_in_utc_within_the_window() -> None:
    times = [f"2024-06-01T{h:02d}:00" for h in range(5)]
    requests: list[httpx.Request] = []
    hours = client(body(times, temperature_2m=[10.0, None, 12.0, 13.0, 14.0]),
                   requests).hourly(52.52, 13.41, START, END)
    assert [h.ts.hour for h in hours] == [0, 1, 2]
    assert [h.values["temperature_2m"] for h in hours] == [10.0, None, 12.0]
    assert hours[0].location == "52.52,13.41"
    params = requests[0].url.params
    assert params["hourly"].split(",") == list(WEATHER_VARIABLES)
    assert (params["start_date"], params["end_date"]) == ("2024-06-01", "2024-06-01")


def test_local_times_are_shifted_by_the_offset() -> None:
    hours = client(body(["2024-06-01T02:00"], offset=7200)).hourly(52.5, 13.4, START, END)
    assert hours[0].ts == START


@pytest.mark.parametrize(("payload", "field"), [
    (body(["2024-06-01T00:00"], temperature_2m=[1.0, 2.0]), "hourly.temperature_2m"),
    (body(["not a time"]), "hourly.time"),
    (body(["2024-06-01T00:00"], cloud_cover=["lots"]), "hourly.cloud_cover.0"),
    (body(["2024-06-01T00:00"], shortwave_radiation=[1e9]), "hourly.shortwave_radiation.0"),
    ({"latitude": 52.5, "longitude": 13.4}, "hourly"),
])
def test_bad_weather_payloads_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(SourceDataInvalid) as info:
        client(payload).hourly(52.5, 13.4, START, END)
    assert info.value.field == field


def test_weather_service_down_is_source_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"retry-after": "1"})

    weather = WeatherClient(WeatherSettings(url="http://127.0.0.1:9"), retries=1,
                            transport=httpx.MockTransport(handler), sleep=lambda s: None)
    with pytest.raises(SourceUnavailable, match="HTTP 503") as info:
        weather.hourly(52.5, 13.4, START, END)
    assert info.value.retry_after == 1.0

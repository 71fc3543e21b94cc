"""A SolChain backend on loopback whose answers a test scripts, for hostile-input tests.

It serves a tiny fixed world that follows the v1 contract (three meters on two grid nodes,
hourly readings for one day, two orders per interval, Open-Meteo-style weather) and lets a test
replace any answer: one row of a readings page (as raw JSON text, so NaN or a duplicate key can
be sent), a whole page, or any other endpoint's response (status, headers, raw bytes).

    backend = HostileBackend()
    with serve_in_thread(backend.app()) as url:
        backend.row = lambda meter, hour, text: text.replace("0.5", "NaN") if hour == 5 else text
        backend.page = lambda since, until, cursor, items: poisoned if ... else None
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

T0 = datetime(2026, 1, 5, tzinfo=UTC)
HOURS = 24
HOUR = timedelta(hours=1)
METERS = [
    {"meter_id": "m0", "user_id": "u0", "node_id": "n0", "kind": "prosumer", "pv_kwp": 5.0,
     "storage_kwh": 0.0, "lat": 36.1, "lon": -79.9},
    {"meter_id": "m1", "user_id": "u1", "node_id": "n0", "kind": "consumer", "pv_kwp": 0.0,
     "storage_kwh": 0.0, "lat": 36.1, "lon": -79.9},
    {"meter_id": "m2", "user_id": "u2", "node_id": "n1", "kind": "prosumer", "pv_kwp": 4.0,
     "storage_kwh": 5.0, "lat": 36.1, "lon": -79.9},
]
GRID = {"nodes": [{"node_id": "n0", "storage_kwh": 0.0, "storage_kw": 0.0},
                  {"node_id": "n1", "storage_kwh": 5.0, "storage_kw": 2.5}],
        "lines": [{"from": "n0", "to": "n1", "capacity_kw": 250.0}],
        "import_price": 0.2, "export_price": 0.05, "carbon_g_per_kwh": 300.0}

Raw = tuple[int, dict[str, str], bytes]  # status, headers, body


def value(meter: str, hour: int) -> tuple[float, float]:
    """(consumption_kwh, production_kwh) of a meter in hour ``hour`` after T0."""
    index = int(meter[1:])
    production = 0.0 if meter == "m1" else round(0.25 * (hour % 6), 2)
    return round(0.4 + 0.01 * hour + 0.1 * index, 3), production


def reading(meter: str, hour: int) -> dict[str, Any]:
    consumption, production = value(meter, hour)
    return {"meter_id": meter, "ts": (T0 + hour * HOUR).isoformat(),
            "consumption_kwh": consumption, "production_kwh": production}


def json_raw(payload: Any, status: int = 200, **headers: str) -> Raw:
    return status, {"content-type": "application/json", **headers}, json.dumps(payload).encode()


def orders(interval_start: datetime) -> list[dict[str, Any]]:
    stamp = f"{interval_start:%Y%m%d%H}"
    return [{"order_id": f"b{stamp}", "user_id": "u1", "meter_id": "m1", "node_id": "n0",
             "side": "bid", "quantity_kwh": 1.0, "limit_price": 0.22,
             "ts": interval_start.isoformat()},
            {"order_id": f"o{stamp}", "user_id": "u0", "meter_id": "m0", "node_id": "n0",
             "side": "offer", "quantity_kwh": 0.8, "limit_price": 0.12,
             "ts": interval_start.isoformat()}]


def weather(start: str, end: str) -> dict[str, Any]:
    first = datetime.fromisoformat(start).replace(tzinfo=UTC)
    days = (datetime.fromisoformat(end).replace(tzinfo=UTC) - first).days + 1
    times = [(first + h * HOUR).strftime("%Y-%m-%dT%H:%M") for h in range(24 * days)]
    names = ("temperature_2m", "relative_humidity_2m", "shortwave_radiation",
             "direct_normal_irradiance", "diffuse_radiation", "wind_speed_10m", "cloud_cover")
    return {"latitude": 36.1, "longitude": -79.9, "utc_offset_seconds": 0,
            "hourly": {"time": times, **{n: [10.0] * len(times) for n in names}}}


@dataclass
class HostileBackend:
    """The scripted backend; every hook is None (good answers) until a test sets it."""

    # (meter_id, hour after T0, the row's JSON text) -> the JSON text to send instead
    row: Callable[[str, int, str], str] | None = None
    # (since, until, cursor, items of the page) -> an answer to send instead, or None
    page: Callable[[datetime, datetime, str | None, list[dict[str, Any]]], Raw | None] | None = None
    answers: dict[str, Callable[[Request], Raw | None]] = field(default_factory=dict)
    extra_rows: list[str] = field(default_factory=list)  # raw JSON rows appended to page 0
    cursor_tail: str = ""  # appended to every cursor ("p20~..."): long or odd legal cursors
    requests: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.row = self.page = None
        self.cursor_tail = ""
        self.answers.clear()
        self.extra_rows.clear()
        self.requests.clear()

    def _readings(self, since: datetime, until: datetime, cursor: str | None,
                  limit: int) -> Raw:
        keys = [(m["meter_id"], h) for h in range(HOURS) for m in METERS
                if since <= T0 + h * HOUR < until]
        number = (cursor or "p0")[1:].split("~")[0]
        if cursor is not None and not (cursor.startswith("p") and number.isdigit()):
            return json_raw({"detail": f"unknown cursor {cursor[:40]!r}"}, 400)
        position = int(number)
        chosen = keys[position:position + limit]
        items = [reading(m, h) for m, h in chosen]
        if self.page is not None:
            replaced = self.page(since, until, cursor, items)
            if replaced is not None:
                return replaced
        texts = [json.dumps(item) for item in items]
        if self.row is not None:
            texts = [self.row(m, h, t) for (m, h), t in zip(chosen, texts, strict=True)]
        if position == 0:
            texts += self.extra_rows
        stop = position + limit
        next_cursor = json.dumps(f"p{stop}{self.cursor_tail}" if stop < len(keys) else None)
        body = f'{{"items": [{", ".join(texts)}], "next_cursor": {next_cursor}}}'
        return 200, {"content-type": "application/json"}, body.encode()

    def app(self) -> FastAPI:
        app = FastAPI()

        def answer(name: str, request: Request, default: Callable[[], Raw]) -> Response:
            self.requests.append(f"{name} {request.url.query}")
            hook = self.answers.get(name)
            raw = hook(request) if hook is not None else None
            status, headers, body = raw if raw is not None else default()
            return Response(body, status_code=status, headers=headers)

        @app.get("/api/v1/meters")
        def meters(request: Request) -> Response:
            return answer("meters", request, lambda: json_raw(METERS))

        @app.get("/api/v1/grid")
        def grid(request: Request) -> Response:
            return answer("grid", request, lambda: json_raw(GRID))

        @app.get("/api/v1/readings")
        def readings(request: Request, since: str, until: str, cursor: str | None = None,
                     limit: int = 5000) -> Response:
            window = (datetime.fromisoformat(since), datetime.fromisoformat(until))
            return answer("readings", request,
                          lambda: self._readings(*window, cursor, limit))

        @app.get("/api/v1/market/orders")
        def market_orders(request: Request, interval_start: str) -> Response:
            start = datetime.fromisoformat(interval_start)
            return answer("orders", request, lambda: json_raw(orders(start)))

        @app.get("/v1/forecast")
        def forecast(request: Request, start_date: str, end_date: str) -> Response:
            return answer("weather", request, lambda: json_raw(weather(start_date, end_date)))

        return app


@contextmanager
def serving() -> Iterator[tuple[HostileBackend, str]]:
    """A scripted backend on a loopback port, and its base URL."""
    from oracle.simulator.backend import serve_in_thread

    backend = HostileBackend()
    with serve_in_thread(backend.app()) as url:
        yield backend, url


@lru_cache(maxsize=2)
def gzip_bomb(decoded_bytes: int = 1 << 30) -> bytes:
    """``Content-Encoding: gzip, gzip`` of 2.5 KB that decodes to ``decoded_bytes`` of zeros
    (1 GiB by default): one gzip member of zeros, gzipped again. The member is put together
    from one deflated MiB (a full flush makes every MiB's deflate output the same) instead of
    deflating the whole gigabyte."""
    mib = b"\0" * (1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    count = decoded_bytes >> 20
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(mib, crc)
    member = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + block * count + deflate.flush()
              + struct.pack("<II", crc, (count << 20) & 0xFFFFFFFF))
    return gzip.compress(member, 9)

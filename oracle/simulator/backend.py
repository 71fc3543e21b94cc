"""The reference backend: the v1 contract and an Open-Meteo-style ``/v1/forecast``, from a replay.

A replay clock decides what has "happened": readings are served for intervals that have ended
on that clock, which runs ``speed`` times faster than real time from ``history_hours`` into
the replay. Weather is the whole TMY year, served for past and future hours alike.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from oracle.simulator.replay import INTERVAL_S, Replay

MAX_PAGE = 20_000
RESULT_KINDS = ("forecasts", "prices", "anomalies", "schedules")


class ReplayClock:
    """Replay time: ``origin`` at start-up, advancing ``speed`` replay seconds per real second."""

    def __init__(self, origin: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.origin, self.speed, self._t0 = origin, speed, time.monotonic()

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def _aware(value: str, name: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as err:
        raise HTTPException(422, f"{name}={value[:40]!r} is not an ISO 8601 time") from err
    if ts.tzinfo is None:
        raise HTTPException(422, f"{name}={value[:40]!r} has no time zone")
    try:
        return ts.astimezone(UTC)
    except OverflowError as err:
        raise HTTPException(422, f"{name}={value[:40]!r} is out of range") from err


def _cursor_position(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.startswith("p") or not cursor[1:].isdigit():
        raise HTTPException(400, f"unknown cursor {cursor!r}")
    return int(cursor[1:])


def _readings_page(replay: Replay, now: datetime, since: datetime, until: datetime,
                   cursor: str | None, limit: int) -> dict[str, Any]:
    """Items ordered by (ts, meter); the cursor is the flat position of the next item."""
    n_meters = len(replay.meters)
    ended = int((now - replay.start).total_seconds() // INTERVAL_S)
    first_t = max(0, replay.index_of(since))
    last_t = min(replay.hours, ended, replay.index_of(until))  # exclusive
    begin, end = first_t * n_meters, max(first_t, last_t) * n_meters
    position = _cursor_position(cursor)
    position = begin if position is None else max(begin, position)
    stop = min(end, position + limit)
    items: list[dict[str, Any]] = []
    ids = [m["meter_id"] for m in replay.meters]
    for t in range(position // n_meters, (stop - 1) // n_meters + 1 if stop > position else 0):
        ts = (replay.start + timedelta(seconds=t * INTERVAL_S)).isoformat()
        lo, hi = max(position - t * n_meters, 0), min(stop - t * n_meters, n_meters)
        cons = replay.consumption[lo:hi, t].tolist()
        prod = replay.production[lo:hi, t].tolist()
        items.extend({"meter_id": ids[lo + i], "ts": ts, "consumption_kwh": c,
                      "production_kwh": p} for i, (c, p) in enumerate(zip(cons, prod, strict=True)))
    return {"items": items, "next_cursor": f"p{stop}" if stop < end else None}


def _weather(replay: Replay, latitude: float, longitude: float, hourly: str,
             start: date, end: date) -> dict[str, Any]:
    names = [n for n in hourly.split(",") if n]
    unknown = [n for n in names if n not in replay.weather.columns]
    if unknown:
        raise HTTPException(400, f"unknown hourly variable(s): {', '.join(unknown)}")
    lo = datetime.combine(start, datetime.min.time(), UTC)
    hi = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=1)
    frame = replay.weather.loc[(replay.weather.index >= lo) & (replay.weather.index < hi), names]
    hourly_out: dict[str, Any] = {"time": [t.strftime("%Y-%m-%dT%H:%M") for t in frame.index]}
    for name in names:
        column = frame[name].to_numpy(dtype=float)
        hourly_out[name] = [None if np.isnan(v) else round(float(v), 2) for v in column]
    return {"latitude": replay.site[0], "longitude": replay.site[1], "utc_offset_seconds": 0,
            "timezone": "GMT", "hourly": hourly_out}


def create_app(replay: Replay, clock: ReplayClock, token: str | None = None) -> FastAPI:
    """The FastAPI app serving ``replay`` on ``clock``; with ``token``, bearer auth is required."""
    app = FastAPI(title="SolChain reference backend", version="1")
    results: dict[str, dict[str, Any]] = {kind: {} for kind in RESULT_KINDS}
    lock = threading.Lock()

    @app.middleware("http")
    async def bearer(request: Request, call_next: Any) -> Any:
        if token and request.url.path.startswith("/api/") and (
                request.headers.get("authorization") != f"Bearer {token}"):
            return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401)
        return await call_next(request)

    @app.get("/api/v1/meters")
    def meters() -> Response:
        return _json(replay.meters)

    @app.get("/api/v1/readings")
    def readings(since: str, until: str, cursor: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 5000) -> Response:
        page = _readings_page(replay, clock.now(), _aware(since, "since"),
                              _aware(until, "until"), cursor, limit)
        return _json(page)

    @app.get("/api/v1/market/orders")
    def orders(interval_start: str) -> Response:
        ts = _aware(interval_start, "interval_start")
        if (ts - replay.start).total_seconds() % INTERVAL_S:
            raise HTTPException(422, f"interval_start={interval_start!r} is off the hourly grid")
        return _json(replay.orders(replay.index_of(ts)))

    @app.get("/api/v1/grid")
    def grid() -> Response:
        return _json(replay.grid())

    @app.post("/api/v1/oracle/{kind}", status_code=201)
    async def post_result(kind: str, request: Request,
                          idempotency_key: Annotated[str | None, Header()] = None) -> Response:
        if kind not in results:
            raise HTTPException(404, f"unknown result kind {kind!r}")
        if not idempotency_key:
            raise HTTPException(400, "the Idempotency-Key header is required")
        try:
            body = json.loads(await request.body())
        except ValueError as err:
            raise HTTPException(400, f"body is not JSON: {err}") from err
        with lock:
            earlier = results[kind].setdefault(idempotency_key, body)
        if earlier != body:
            raise HTTPException(409, f"Idempotency-Key {idempotency_key!r} was used with "
                                "a different body")
        return _json({"id": idempotency_key, "count": len(results[kind])}, status=201)

    @app.get("/api/v1/oracle/{kind}")
    def list_results(kind: str) -> Response:
        if kind not in results:
            raise HTTPException(404, f"unknown result kind {kind!r}")
        return _json(results[kind])

    @app.get("/v1/forecast")
    def forecast(latitude: Annotated[float, Query(ge=-90, le=90)],
                 longitude: Annotated[float, Query(ge=-180, le=180)], hourly: str = "",
                 start_date: date | None = None, end_date: date | None = None,
                 past_days: Annotated[int, Query(ge=0, le=92)] = 0,
                 forecast_days: Annotated[int, Query(ge=0, le=16)] = 7) -> Response:
        today = clock.now().date()
        start = start_date or today - timedelta(days=past_days)
        end = end_date or today + timedelta(days=max(forecast_days - 1, 0))
        if end < start:
            raise HTTPException(400, "end_date is before start_date")
        return _json(_weather(replay, latitude, longitude, hourly, start, end))

    @app.get("/healthz")
    def healthz() -> Response:
        return _json({"status": "ok", "replay_now": clock.now().isoformat()})

    return app


@contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0,
                    timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL; stop it on exit."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="reference-backend", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the reference backend did not start on {host}:{port}")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)


def serve(host: str = "127.0.0.1", port: int = 8600, speed: float = 1.0, *, meters: int = 50,
          weeks: int = 4, seed: int = 0, history_hours: int = 168,
          token: str | None = None) -> None:
    """Build the replay and serve it in the foreground until interrupted."""
    import uvicorn

    from oracle.simulator.replay import build_replay

    replay = build_replay(meters=meters, weeks=weeks, seed=seed)
    clock = ReplayClock(replay.start + timedelta(hours=history_hours), speed)
    uvicorn.run(create_app(replay, clock, token), host=host, port=port, log_level="info")

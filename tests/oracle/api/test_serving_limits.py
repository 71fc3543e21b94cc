"""Serving limits: body size, JSON depth, array lengths, horizons, problem size, timestamps,
short error excerpts (in-process), and the time budget, client disconnects, read deadlines and
a taken port on a real server on loopback with real worker processes."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oracle.api import Models, ModelWorkers, guard_requests, model_router
from oracle.api.probes import Readiness, create_api
from oracle.api.server import bind, serve_in_thread
from oracle.api.workers import Runner
from oracle.config import ApiSettings
from oracle.lifecycle import ModelRegistry
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade
from oracle.telemetry import Metrics

ROOT = Path(__file__).resolve().parents[3]
T0 = "2024-03-04T00:00:00+00:00"
GRID = {"nodes": [{"node_id": "a", "demand_kw": 3, "storage_kwh": 10, "storage_kw": 3},
                  {"node_id": "b", "demand_kw": 2}],
        "lines": [{"from": "a", "to": "b", "capacity_kw": 5}], "import_price": 0.25}


def app_with(tmp_path: Path, limits: ApiSettings, runner: Runner | None = None,
             token: str | None = None) -> FastAPI:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    models = Models(ModelRegistry(engine, tmp_path / "models"), Metrics())
    api = create_api(Metrics(), Readiness(), routers=[
        model_router(models, token=token, limits=limits, runner=runner)])
    guard_requests(api, limits, token=token)
    return api


def hourly(n: int) -> list[str]:
    from datetime import UTC, datetime, timedelta

    start = datetime(2024, 3, 4, tzinfo=UTC)
    return [(start + timedelta(hours=i)).isoformat() for i in range(n)]


def series(n: int) -> dict[str, Any]:
    return {"timestamps": hourly(n), "values": [float(i % 24) for i in range(n)]}


def order(i: int, ts: str = T0) -> dict[str, Any]:
    return {"order_id": f"o{i}", "quantity_kwh": 1.0, "limit_price": 0.2, "ts": ts}


def reading(i: int, ts: str | None = None) -> dict[str, Any]:
    return {"meter_id": "m1", "ts": ts or hourly(i + 1)[-1], "consumption_kwh": 0.5}


def weather(n: int, ts: str | None = None) -> list[dict[str, Any]]:
    return [{"ts": ts or t, "shortwave_radiation": 100.0} for t in hourly(n)]


SITE = {"lat": 36.0, "lon": -79.9, "pv_kwp": 5.0}
NODES3 = {**GRID, "nodes": [*GRID["nodes"], {"node_id": "c"}]}

# (case, path, body, setting named in the 422)
OVER: list[tuple[str, str, Callable[[], dict[str, Any]], str]] = [
    ("history points", "/forecast/demand", lambda: {"history": series(30), "horizon": 2},
     "api.max_points"),
    ("forecast horizon", "/forecast/demand", lambda: {"history": series(20), "horizon": 6},
     "api.max_horizon"),
    ("weather rows", "/forecast/solar",
     lambda: {"site": SITE, "weather": weather(30), "horizon": 2}, "api.max_points"),
    ("solar horizon", "/forecast/solar",
     lambda: {"site": SITE, "weather": weather(10), "horizon": 6}, "api.max_horizon"),
    ("bids", "/pricing/clear", lambda: {"bids": [order(i) for i in range(4)], "offers": []},
     "api.max_orders"),
    ("curve points", "/pricing/optimize",
     lambda: {"demand": {"prices": [0.1, 0.2, 0.3, 0.4], "quantities_kwh": [4, 3, 2, 1]},
              "supply": {"prices": [0.1], "quantities_kwh": [1]}}, "api.max_curve_points"),
    ("readings", "/anomaly/detect", lambda: {"readings": [reading(i) for i in range(30)]},
     "api.max_points"),
    ("nodes", "/optimize/grid", lambda: {"grid": NODES3, "horizon": 2}, "api.max_nodes"),
    ("dispatch hours", "/optimize/grid", lambda: {"grid": GRID, "horizon": 13},
     "api.max_dispatch_hours"),
    ("node-hours", "/optimize/grid", lambda: {"grid": GRID, "horizon": 6},
     "api.max_node_hours"),
]
SMALL = ApiSettings(max_points=20, max_horizon=5, max_orders=3, max_curve_points=3,
                    max_nodes=2, max_dispatch_hours=12, max_node_hours=10,
                    max_body_bytes=20_000)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_with(tmp_path, SMALL), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(("case", "path", "body", "setting"), OVER, ids=[o[0] for o in OVER])
def test_a_request_beyond_a_limit_is_a_422_naming_it(client: TestClient, case: str, path: str,
                                                     body: Callable[[], dict[str, Any]],
                                                     setting: str) -> None:
    r = client.post(path, json=body())
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["type"] == "too_large" and setting in detail[0]["msg"], detail


def test_within_the_limits_the_same_endpoints_answer(client: TestClient) -> None:
    assert client.post("/optimize/grid", json={"grid": GRID, "horizon": 5}).status_code == 200
    assert client.post("/pricing/clear", json={"bids": [order(1)], "offers": [order(2)]}
                       ).status_code == 200


def test_a_body_over_the_limit_is_a_413_declared_or_streamed(client: TestClient) -> None:
    big = json.dumps({"bids": [order(i) for i in range(400)], "offers": []})
    declared = client.post("/pricing/clear", content=big,
                           headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "api.max_body_bytes" in declared.text
    streamed = client.post("/pricing/clear", content=iter([big[:15_000].encode(),
                                                           big[15_000:].encode()]),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and "20000 bytes" in streamed.text


def test_deep_json_is_refused_before_routing_and_auth(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    api = app_with(tmp_path, ApiSettings(), token="s3cret-token")
    auth = {"content-type": "application/json", "authorization": "Bearer s3cret-token"}
    with TestClient(api, raise_server_exceptions=False) as c:
        for body in ("[" * 100_000, '{"a":' * 65 + "1" + "}" * 65,
                     '{"bids": [], "offers": [], "x": ' + "[" * 70 + "]" * 70 + "}"):
            started = time.perf_counter()
            r = c.post("/pricing/clear", content=body, headers=auth)
            assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_too_deep"
            assert time.perf_counter() - started < 2
            anonymous = c.post("/pricing/clear", content=body,
                               headers={"content-type": "application/json"})
            assert anonymous.status_code == 401  # without the token the body is never read
        assert c.post("/pricing/clear", json={"bids": [], "offers": []}).status_code == 401
        ok = c.post("/pricing/clear", json={"bids": [], "offers": []}, headers=auth)
        assert ok.status_code == 200, ok.text
        assert c.get("/healthz").status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


OUT_OF_RANGE = ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", 1_700_000_000,
                "1700000000", "not a time", "2024-13-40T99:00:00Z"]
# (endpoint, body with one timestamp replaced, where the error must point)
WITH_TS: list[tuple[str, Callable[[Any], dict[str, Any]], list[Any]]] = [
    ("/forecast/demand", lambda ts: {"history": {"timestamps": [*hourly(5), ts],
                                                 "values": [1.0] * 6}, "horizon": 2},
     ["body", "history", "timestamps", 5]),
    ("/forecast/solar", lambda ts: {"site": SITE, "weather": weather(3) + weather(1, ts),
                                    "horizon": 1}, ["body", "weather", 3, "ts"]),
    ("/pricing/clear", lambda ts: {"bids": [order(1, ts)], "offers": []},
     ["body", "bids", 0, "ts"]),
    ("/pricing/optimize", lambda ts: {"demand": {"prices": [0.1], "quantities_kwh": [1]},
                                      "supply": {"prices": [0.1], "quantities_kwh": [1]},
                                      "ts": ts}, ["body", "ts"]),
    ("/anomaly/detect", lambda ts: {"readings": [reading(0), reading(1, ts)]},
     ["body", "readings", 1, "ts"]),
    ("/anomaly/detect", lambda ts: {"readings": [reading(0)], "history": [reading(1, ts)]},
     ["body", "history", 0, "ts"]),
]


@pytest.mark.parametrize("ts", OUT_OF_RANGE, ids=[str(t) for t in OUT_OF_RANGE])
@pytest.mark.parametrize(("path", "body", "loc"), WITH_TS,
                         ids=[f"{w[0]}:{w[2][1]}" for w in WITH_TS])
def test_bad_timestamps_are_a_422_on_every_endpoint(client: TestClient, path: str,
                                                    body: Callable[[Any], dict[str, Any]],
                                                    loc: list[Any], ts: Any) -> None:
    r = client.post(path, json=body(ts))
    assert r.status_code == 422, r.text
    assert loc in [d["loc"] for d in r.json()["detail"]], r.text


def test_errors_echo_only_short_excerpts(client: TestClient) -> None:
    huge = "x" * 15_000
    r = client.post("/pricing/clear", json={"bids": [{**order(1), "order_id": huge}],
                                            "offers": []})
    assert r.status_code == 422 and len(r.content) < 1_000 and huge not in r.text
    many = client.post("/forecast/demand", json={
        "history": {"timestamps": hourly(3), "values": ["bad"] * 2000}, "horizon": 2})
    assert many.status_code in (413, 422)
    bad = client.post("/forecast/demand", json={
        "history": {"timestamps": hourly(3), "values": ["bad"] * 500}, "horizon": 2})
    detail = bad.json()["detail"]
    assert bad.status_code == 422 and len(detail) <= 21 and "more errors" in detail[-1]["msg"]


# ---------------------------------------------------------------- real workers, real server


@pytest.fixture(scope="module")
def workers() -> Iterator[ModelWorkers]:
    pool = ModelWorkers(processes=1, memory_mb=2048)
    assert pool.ready(120), "the model worker did not start"
    yield pool
    pool.close()


def big_grid(nodes: int) -> dict[str, Any]:
    return {"nodes": [{"node_id": f"n{i}", "demand_kw": 1 + i % 5, "storage_kwh": 5,
                       "storage_kw": 2} for i in range(nodes)],
            "lines": [{"from": f"n{i}", "to": f"n{i + 1}", "capacity_kw": 50}
                      for i in range(nodes - 1)], "import_price": 0.25}


HEAVY = ApiSettings(request_timeout_s=2.0, max_node_hours=1_000_000, header_timeout_s=1.0,
                    body_timeout_s=1.0)


def gone(pid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_solve_past_its_budget_is_stopped(tmp_path: Path, workers: ModelWorkers) -> None:
    with TestClient(app_with(tmp_path, HEAVY, workers), raise_server_exceptions=False) as c:
        assert c.post("/optimize/grid", json={"grid": GRID, "horizon": 4}).status_code == 200
        assert workers.ready(30)
        [pid] = workers.idle_pids()
        started = time.perf_counter()
        r = c.post("/optimize/grid", json={"grid": big_grid(500), "horizon": 168})
        took = time.perf_counter() - started
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "budget_exceeded"
        assert "api.request_timeout_s" in r.text and took < 5
        assert gone(pid, 5), "the worker kept running after its budget"
        assert workers.ready(60)
        assert c.post("/optimize/grid", json={"grid": GRID, "horizon": 4}).status_code == 200


@pytest.fixture
def server(tmp_path: Path, workers: ModelWorkers) -> Iterator[str]:
    limits = HEAVY.model_copy(update={"request_timeout_s": 120.0})
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    running = serve_in_thread(app_with(tmp_path, limits, workers), sock, limits)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True


def test_a_client_that_goes_away_stops_its_solve(server: str, workers: ModelWorkers) -> None:
    assert workers.ready(60)
    [pid] = workers.idle_pids()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server}/optimize/grid", json={"grid": big_grid(500), "horizon": 168},
                   timeout=1.5)
    assert gone(pid, 5), "the worker kept solving for a client that had left"
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes the connection within ``seconds``; what it sent first."""
    started, data = time.monotonic(), b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return time.monotonic() - started < seconds, data
        data += chunk


@pytest.mark.parametrize("sent", [b"", b"POST /pricing/clear HTTP/1.1\r\nHost: x\r\n"],
                         ids=["nothing", "half a head"])
def test_an_idle_head_is_dropped(server: str, sent: bytes) -> None:
    with connect(server) as sock:
        sock.sendall(sent)
        dropped, answer = closed_within(sock, 4)
    assert dropped and answer == b""
    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200


def test_a_body_announced_and_never_sent_is_a_408(server: str) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /pricing/clear HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 4000000\r\n\r\n{\"bids\": [")
        dropped, answer = closed_within(sock, 4)
    assert dropped and answer.startswith(b"HTTP/1.1 408") and b"api.body_timeout_s" in answer


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_taken_port_ends_the_process_with_one_line(command: str, tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
    env.update({"PYTHONPATH": str(ROOT), "ORACLE_API__PORT": str(port),
                "ORACLE_DATABASE_URL": f"sqlite:///{tmp_path}/oracle.db",
                "ORACLE_DATA_DIR": str(tmp_path / "var")})
    try:
        done = subprocess.run([sys.executable, "-c", "from oracle.cli import run; run()",
                               command], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)
    finally:
        taken.close()
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: the API cannot listen on 127.0.0.1:{port} (api.host, api.port): "
                     "Address already in use"], done.stderr


def test_the_inline_runner_stops_waiting_at_the_budget() -> None:
    import asyncio

    from oracle.api import InlineRunner, Rejected

    async def never_gone() -> bool:
        return False

    async def call() -> float:
        started = time.perf_counter()
        with pytest.raises(Rejected) as info:
            await InlineRunner().run(time.sleep, (2.0,), budget_s=0.3, gone=never_gone)
        assert info.value.kind == "budget_exceeded"
        return time.perf_counter() - started

    assert asyncio.run(call()) < 1.5  # the answer does not wait for the thread


def test_without_the_token_nothing_of_the_body_is_waited_for(tmp_path: Path) -> None:
    limits = ApiSettings(body_timeout_s=5.0)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    running = serve_in_thread(app_with(tmp_path, limits, token="s3cret-token"), sock, limits)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /optimize/grid HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: 4000000\r\n\r\n")
            started = time.monotonic()
            dropped, answer = closed_within(conn, 5)
        assert dropped and answer.startswith(b"HTTP/1.1 401")
        assert time.monotonic() - started < 2 and b"www-authenticate: bearer" in answer.lower()
    finally:
        running.should_exit = True


def test_a_large_body_is_checked_like_a_small_one(tmp_path: Path, workers: ModelWorkers) -> None:
    """Bodies over bodies.LARGE are validated in a model worker: same answers, same limits."""
    from oracle.api.bodies import LARGE

    limits = ApiSettings(max_points=10_000, max_body_bytes=2_000_000)
    with TestClient(app_with(tmp_path, limits, workers), raise_server_exceptions=False) as c:
        many = {"history": series(20_000), "horizon": 3}
        assert len(json.dumps(many)) > LARGE
        r = c.post("/forecast/demand", json=many)
        assert r.status_code == 422 and "api.max_points" in r.text
        bad = {"history": {"timestamps": hourly(3), "values": ["x" * 40] * 20_000},
               "horizon": 3}
        r = c.post("/forecast/demand", json=bad)
        detail = r.json()["detail"]
        assert r.status_code == 422 and len(detail) == 21 and len(r.content) < 10_000
        assert detail[0]["loc"] == ["body", "history", "values", 0]
        assert detail[-1]["msg"] == "19980 more errors not shown"

"""Hypothesis fuzz of every model endpoint's body (500 examples each), the ASGI app in-process
with its model calls in a real worker process: whatever arrives, the answer is a 2xx or 4xx with
a JSON body, never a 5xx, and the server keeps answering /healthz.

Each example is a plausible request for the endpoint (built from a few drawn numbers, so many
reach the models) with up to three places replaced, removed or added (NaN, infinities, huge
numbers, out-of-range timestamps, wrong types, deep or odd JSON), or arbitrary JSON or bytes.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle.api import Models, ModelWorkers, guard_requests, model_router
from oracle.api.probes import Readiness, create_api
from oracle.config import ApiSettings
from oracle.lifecycle import ModelRegistry
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade
from oracle.telemetry import Metrics

EXAMPLES = 500
LIMITS = ApiSettings(request_timeout_s=20.0, max_body_bytes=200_000)

scalars = (st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
SPECIAL = [math.nan, math.inf, -math.inf, 1e308, -1e308, -1, 0, 2**70, 1e-320, True, None, "",
           [], {}, "x" * 100, "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00",
           "2200-01-01T00:00:01Z", 1_700_000_000, "1700000000", "2024-02-30T00:00:00Z", "NaN"]
junk = st.sampled_from(SPECIAL) | json_values


def hour(i: int) -> str:
    return f"2024-03-{4 + i // 24:02d}T{i % 24:02d}:00:00+00:00"


def wave(i: int, scale: float = 1.0) -> float:
    """A daily cycle with a little noise (a perfect cycle has no naive error to scale by)."""
    return round(scale * (1.2 + math.sin(2 * math.pi * (i % 24) / 24) + 0.05 * ((i * 7) % 5)), 4)


def demand(n: int, horizon: int, scale: float) -> dict[str, Any]:
    return {"history": {"timestamps": [hour(i) for i in range(n)],
                        "values": [wave(i, scale) for i in range(n)]}, "horizon": horizon}


def solar(hours: int, history: int, horizon: int, kwp: float) -> dict[str, Any]:
    ghi = [max(0.0, 800 * math.sin(math.pi * ((i % 24) - 6) / 12)) for i in range(hours)]
    doc: dict[str, Any] = {
        "site": {"lat": 36.0, "lon": -79.9, "pv_kwp": kwp}, "horizon": horizon,
        "weather": [{"ts": hour(i), "shortwave_radiation": round(g, 2), "cloud_cover": 20.0,
                     "temperature_2m": 15.0} for i, g in enumerate(ghi)]}
    if history:
        doc["history"] = {"timestamps": [hour(i) for i in range(history)],
                          "values": [round(g * kwp * 0.0008, 4) for g in ghi[:history]]}
    return doc


def curves(n: int, skew: float) -> dict[str, Any]:
    prices = [round(0.05 + 0.45 * i / max(1, n - 1), 4) for i in range(n)]
    return {"demand": {"prices": prices, "quantities_kwh": [float(n - i) for i in range(n)]},
            "supply": {"prices": prices,
                       "quantities_kwh": [round(skew * (i + 1), 3) for i in range(n)]}}


def books(bids: int, offers: int, spread: float) -> dict[str, Any]:
    def side(prefix: str, n: int, base: float) -> list[dict[str, Any]]:
        return [{"order_id": f"{prefix}{i}", "quantity_kwh": 1.0 + i % 3,
                 "limit_price": round(min(0.5, max(0.05, base + 0.01 * (i % 7))), 3),
                 "ts": hour(0), "node_id": f"n{i % 2}"} for i in range(n)]

    return {"bids": side("b", bids, 0.2 + spread), "offers": side("o", offers, 0.2 - spread)}


def readings(meters: int, hours: int, spike: int) -> dict[str, Any]:
    rows = [{"meter_id": f"m{m}", "ts": hour(i), "consumption_kwh": wave(i, 0.3 + m / 4),
             "production_kwh": 0.0} for m in range(meters) for i in range(hours)]
    if rows and spike:
        rows[spike % len(rows)]["consumption_kwh"] = 40.0
    return {"readings": rows[-48:] or rows, "history": rows or None}


def grid(nodes: int, horizon: int, profile: bool) -> dict[str, Any]:
    ids = [f"n{i}" for i in range(nodes)]
    doc: dict[str, Any] = {
        "grid": {"nodes": [{"node_id": n, "demand_kw": 1.0 + i, "storage_kwh": 4.0 * (i % 2),
                            "storage_kw": 2.0 * (i % 2)} for i, n in enumerate(ids)],
                 "lines": [{"from": a, "to": b, "capacity_kw": 5.0}
                           for a, b in itertools.pairwise(ids)],
                 "import_price": 0.25, "export_price": 0.05}, "horizon": horizon}
    if profile and ids:
        doc["generation"] = {ids[-1]: [wave(i, 2.0) for i in range(horizon)]}
        doc["import_prices"] = [0.2 + 0.1 * (i % 3) for i in range(horizon)]
    return doc


def mostly(low: int, high: int, edge_low: int, edge_high: int) -> st.SearchStrategy[int]:
    """Usually within [low, high] (what the model needs), now and then anywhere in the edges."""
    return st.one_of(*[st.integers(low, high)] * 4, st.integers(edge_low, edge_high))


VALID: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "/forecast/demand": st.builds(demand, mostly(24 * 7, 24 * 8, 0, 24 * 8),
                                  mostly(1, 24, -1, 400), st.floats(0.1, 100)),
    "/forecast/solar": st.builds(solar, mostly(24 * 6, 24 * 7, 1, 24 * 7),
                                 st.sampled_from([0, 24 * 5, 24 * 5 + 7, 24 * 6]),
                                 mostly(1, 24, -1, 400), st.floats(0.5, 50)),
    "/pricing/optimize": st.builds(curves, mostly(1, 30, 0, 40), st.floats(0.01, 10)),
    "/pricing/clear": st.builds(books, mostly(0, 40, 0, 40), mostly(0, 40, 0, 40),
                                st.floats(-0.1, 0.1)),
    "/anomaly/detect": st.builds(readings, mostly(1, 2, 0, 3), mostly(24 * 4, 24 * 4 + 6, 0, 24 * 5),
                                 st.integers(0, 500)),
    "/optimize/grid": st.builds(grid, mostly(1, 5, 0, 6), mostly(1, 24, -1, 200),
                                st.booleans()),
}


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document (the root is the empty path)."""
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from paths(value, (*prefix, i))


def mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent["extra_field"] = value
    elif action == "add" and isinstance(parent, list):
        parent.insert(last, value)
    else:
        parent[last] = value
    return doc


@st.composite
def spoiled(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> bytes:
    doc: Any = draw(valid)
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 1, 2, 3]))):
        places = list(paths(doc))
        doc = mutate(doc, draw(st.sampled_from(places)),
                     draw(st.sampled_from(["replace", "replace", "delete", "add"])), draw(junk))
    return json.dumps(doc).encode()  # NaN and Infinity as the bare tokens Python writes


raw_bodies = (json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=300)
              | st.text(max_size=300).map(str.encode))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{path}/t.db")
    upgrade(engine)
    workers = ModelWorkers(processes=1, memory_mb=2048)
    assert workers.ready(120)
    api = create_api(Metrics(), Readiness(), routers=[model_router(
        Models(ModelRegistry(engine, path / "models")), limits=LIMITS, runner=workers)])
    guard_requests(api, LIMITS)
    with TestClient(api, raise_server_exceptions=False) as c:
        yield c
    workers.close()


FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("path", list(VALID))
def test_no_body_gets_a_server_error(client: TestClient, path: str) -> None:
    answered: list[int] = []

    @FUZZ
    @given(data=st.one_of(spoiled(VALID[path]), spoiled(VALID[path]), spoiled(VALID[path]),
                          raw_bodies))
    def one(data: bytes) -> None:
        r = client.post(path, content=data, headers={"content-type": "application/json"})
        assert r.status_code < 500, (path, data[:300], r.status_code, r.text[:500])
        assert isinstance(r.json(), dict)
        answered.append(r.status_code)

    one()
    assert len(answered) >= EXAMPLES
    assert answered.count(200) >= EXAMPLES // 20, "too few requests reached the models"
    assert client.get("/healthz").status_code == 200


def test_the_valid_builders_are_answered(client: TestClient) -> None:
    """The requests the fuzz starts from are real ones: each endpoint answers them with 200."""
    samples: dict[str, Callable[[], dict[str, Any]]] = {
        "/forecast/demand": lambda: demand(24 * 7, 12, 5.0),
        "/forecast/solar": lambda: solar(24 * 6, 24 * 5, 24, 5.0),
        "/pricing/optimize": lambda: curves(10, 1.0),
        "/pricing/clear": lambda: books(10, 10, 0.05),
        "/anomaly/detect": lambda: readings(2, 24 * 5, 30),
        "/optimize/grid": lambda: grid(3, 12, True),
    }
    for path, make in samples.items():
        r = client.post(path, json=make())
        assert r.status_code == 200, (path, r.text[:300])

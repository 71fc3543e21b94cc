"""Read-only HTTP: ``/healthz`` (alive), ``/readyz`` (dependencies and tick freshness),
``/metrics`` (Prometheus). Model endpoints are added as routers by whoever builds the app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oracle import __version__
from oracle.redact import redact
from oracle.telemetry import Metrics

Check = Callable[[], None]  # raises when the dependency is not reachable


@dataclass
class Readiness:
    """What /readyz checks: named dependency probes and the age of the last successful tick."""

    checks: dict[str, Check] = field(default_factory=dict)
    max_tick_age_s: float | None = None
    last_tick: float | None = None  # unix time
    started: float = field(default_factory=time.time)
    degraded: dict[str, str] = field(default_factory=dict)  # still ready, running without: why

    def tick_done(self) -> None:
        self.last_tick = time.time()

    def evaluate(self) -> tuple[bool, dict[str, str]]:
        results: dict[str, str] = {}
        for name, check in self.checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as err:  # any failure means not ready
                results[name] = redact(f"failing: {type(err).__name__}: {err}")[:300]
        if self.max_tick_age_s is not None:
            reference = self.last_tick if self.last_tick is not None else self.started
            age = time.time() - reference
            if age > self.max_tick_age_s:
                what = "last successful tick" if self.last_tick is not None else "no tick yet, started"
                results["tick"] = f"stale: {what} {age:.0f}s ago (bound {self.max_tick_age_s:.0f}s)"
            else:
                results["tick"] = "ok"
        return all(v == "ok" for v in results.values()), results


def create_api(metrics: Metrics, readiness: Readiness,
               routers: Iterable[APIRouter] = ()) -> FastAPI:
    api = FastAPI(title="SolChain Oracle", version=__version__,
                  description="Health, metrics and model endpoints of the SolChain oracle daemon.")

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """The process is alive (answered on the event loop: never queued behind a model)."""
        return {"status": "ok", "version": __version__}

    @api.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        """Database, RPC and backend reachable; last successful tick young enough; what the
        daemon runs without (``degraded``: e.g. weather unavailable)."""
        ok, results = readiness.evaluate()
        return JSONResponse({"ready": ok, "checks": results,
                             "degraded": dict(readiness.degraded)},
                            status_code=200 if ok else 503)

    @api.get("/metrics", tags=["ops"])
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    schemas: dict[str, Any] = {}
    for router in routers:
        api.include_router(router)
        schemas.update(getattr(router, "component_schemas", {}))
    if schemas:  # request bodies a router validates itself (oracle.api.bodies)
        generate = api.openapi

        def openapi() -> dict[str, Any]:
            doc = generate()
            known = doc.setdefault("components", {}).setdefault("schemas", {})
            known.update({k: v for k, v in schemas.items() if k not in known})
            return doc

        api.openapi = openapi  # type: ignore[method-assign]
    return api

"""Read-only HTTP: ``/healthz`` (alive), ``/readyz`` (dependencies and tick freshness),
``/metrics`` (Prometheus). Model endpoints are added as routers by whoever builds the app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from oracle import __version__
from oracle.readiness import Readiness
from oracle.telemetry import Metrics

__all__ = ["Readiness", "create_api"]

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

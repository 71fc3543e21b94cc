"""The model endpoints as a FastAPI router, an optional bearer token and a request-size limit.

Wiring (by the application)::

    api = create_api(metrics, readiness, routers=[model_router(models, token=secret)])
    limit_body_size(api, settings.api.max_body_bytes)

Every failure is a 4xx whose ``detail`` names the field (FastAPI's own 422 shape, with
non-finite inputs echoed as strings so the error itself is valid JSON); a body over the limit is
a 413; a tampered model artifact is a 503. The endpoints are sync: they run in the thread pool.
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oracle.serving import endpoints
from oracle.serving.schemas import (
    AnomalyRequest,
    AnomalyResponse,
    ClearRequest,
    ClearResponse,
    DemandForecastRequest,
    DispatchRequest,
    DispatchResponse,
    ForecastResponse,
    PricingRequest,
    PricingResponse,
    SolarForecastRequest,
)
from oracle.serving.service import Models, Rejected, finite

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token."},
    404: {"description": "Unknown model name or version (the field is named)."},
    413: {"description": "Request body larger than the configured limit."},
    422: {"description": "Invalid input (the field is named)."},
    503: {"description": "The model artifact failed its SHA-256 check."},
}


def bearer_guard(token: str | None) -> Callable[..., None]:
    """A dependency that requires ``Authorization: Bearer <token>`` when a token is set."""
    scheme = HTTPBearer(auto_error=False, description="Set when the daemon has an API token.")

    def guard(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, detail=[{"loc": ["header", "authorization"],
                                              "msg": "missing or wrong bearer token",
                                              "type": "unauthorized"}],
                                headers={"WWW-Authenticate": "Bearer"})

    return guard


def _answer(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return finite(call())
    except Rejected as err:
        raise HTTPException(err.status, detail=err.detail()) from err


class SafeRoute(APIRoute):
    """Answers request validation errors itself, so an echoed NaN cannot break the JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except RequestValidationError as err:
                detail = _printable(jsonable_encoder(err.errors()))
                return JSONResponse({"detail": detail}, status_code=422)

        return handler


def _printable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def model_router(models: Models, token: str | None = None,
                 max_body_bytes: int | None = None) -> APIRouter:
    """POST /forecast/demand, /forecast/solar, /pricing/optimize, /pricing/clear,
    /anomaly/detect, /optimize/grid, answered by the registered champions.

    ``max_body_bytes`` is Starlette's own per-route limit (a plain-text 413), a fallback for an
    app without :func:`limit_body_size`."""
    router = APIRouter(tags=["models"], dependencies=[Depends(bearer_guard(token))],
                       responses=_ERRORS, route_class=SafeRoute, max_body_size=max_body_bytes)

    @router.post("/forecast/demand", response_model=ForecastResponse)
    def forecast_demand(request: DemandForecastRequest) -> dict[str, Any]:
        """Demand forecast with prediction intervals from the demand champion."""
        return _answer(lambda: endpoints.forecast_demand(models, request))

    @router.post("/forecast/solar", response_model=ForecastResponse)
    def forecast_solar(request: SolarForecastRequest) -> dict[str, Any]:
        """PV production forecast for a site from weather (physics + learned correction)."""
        from oracle.serving import solar

        return _answer(lambda: solar.forecast_solar(models, request))

    @router.post("/pricing/optimize", response_model=PricingResponse)
    def pricing_optimize(request: PricingRequest) -> dict[str, Any]:
        """Welfare-optimal price of a demand and a supply curve, with its components."""
        return _answer(lambda: endpoints.optimize_price(models, request))

    @router.post("/pricing/clear", response_model=ClearResponse)
    def pricing_clear(request: ClearRequest) -> dict[str, Any]:
        """Double-auction clearing of bids and offers."""
        return _answer(lambda: endpoints.clear(models, request))

    @router.post("/anomaly/detect", response_model=AnomalyResponse)
    def anomaly_detect(request: AnomalyRequest) -> dict[str, Any]:
        """Anomalous readings with type, severity and recommended action."""
        return _answer(lambda: endpoints.detect(models, request))

    @router.post("/optimize/grid", response_model=DispatchResponse)
    def optimize_grid(request: DispatchRequest) -> dict[str, Any]:
        """Optimal microgrid dispatch: storage, imports, line flows and nodal prices."""
        return _answer(lambda: endpoints.dispatch(models, request))

    return router


def _replay(message: Message, receive: Receive) -> Receive:
    pending = [message]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class BodySizeLimit:
    """ASGI middleware: a JSON 413 naming the limit for a body over ``max_bytes`` (declared in
    Content-Length or streamed); the body is buffered, at most ``max_bytes``, and replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(send)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away: let the app see it
                await self.app(scope, _replay(message, receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": [{
            "loc": ["body"], "type": "too_large",
            "msg": f"request body exceeds the limit of {self.max_bytes} bytes"}]}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def limit_body_size(api: FastAPI, max_bytes: int) -> None:
    """Refuse request bodies over ``max_bytes`` with a JSON 413 (settings.api.max_body_bytes)."""
    api.add_middleware(BodySizeLimit, max_bytes=max_bytes)


def routers_for(target: Any) -> list[APIRouter]:
    """The model routers for an ``Application`` (or bare ``Settings``: the store is opened).

    The bearer token comes from ``ORACLE_API_TOKEN`` or ``<secrets_dir>/api_token``; none
    means the endpoints are open (bind the API to localhost then)."""
    from oracle.app import open_store
    from oracle.serving.registry import ModelRegistry
    from oracle.telemetry import Metrics

    settings = getattr(target, "settings", target)
    engine = getattr(target, "engine", None) or open_store(settings)
    metrics = getattr(target, "metrics", None) or Metrics()
    models = Models(ModelRegistry(engine, settings.data_dir / "models"), metrics)
    return [model_router(models, token=api_token(settings),
                         max_body_bytes=settings.api.max_body_bytes)]


def api_token(settings: Any) -> str | None:
    """``ORACLE_API_TOKEN``, else the file ``api_token`` in the secrets directory, else None."""
    import os
    from pathlib import Path

    token = os.environ.get("ORACLE_API_TOKEN")
    secrets_dir = settings.secrets_dir or os.environ.get("CREDENTIALS_DIRECTORY")
    if token is None and secrets_dir and (Path(secrets_dir) / "api_token").is_file():
        token = (Path(secrets_dir) / "api_token").read_text().strip()
    return token or None

"""The model endpoints as a FastAPI router, an optional bearer token and the request guard.

Wiring (by the application)::

    api = create_api(metrics, readiness, routers=[model_router(models, token=secret,
                                                              limits=settings.api,
                                                              runner=ModelWorkers(...))])
    guard_requests(api, settings.api)

Every failure is a 4xx whose ``detail`` names the field (FastAPI's own 422 shape, inputs
echoed only as short excerpts); a body over the limit is a 413, one too slow a 408; a request
past a configured limit is a 422 naming the setting; a tampered model artifact is a 503. The
endpoints are async: the cheap preparation runs in the thread pool, the model call in a worker
process under the request's time budget (``workers``), so a slow solve never holds the server.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from oracle.api import endpoints, solar
from oracle.api.bodies import MAX_ERRORS, body_of, component_schemas, documented
from oracle.api.guard import RequestGuard, token_matches
from oracle.api.schemas import (
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
from oracle.api.service import MAX_MESSAGE, Job, Models, Rejected, finite, translate, translated
from oracle.api.workers import InlineRunner, Runner
from oracle.config import ApiSettings
from oracle.jsonsafe import MAX_DEPTH, excerpt

if TYPE_CHECKING:
    from oracle.app import Application

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong bearer token."},
    404: {"description": "Unknown model name or version (the field is named)."},
    408: {"description": "The request body did not arrive in time (api.body_timeout_s)."},
    413: {"description": "Request body larger than the configured limit (api.max_body_bytes)."},
    422: {"description": "Invalid input, or beyond a configured limit or the request's time "
                         "budget (the field and the setting are named)."},
    503: {"description": "The model artifact failed its SHA-256 check, or every model worker "
                         "stayed busy (Retry-After)."},
}


def bearer_guard(token: str | None) -> Callable[..., None]:
    """A dependency that requires ``Authorization: Bearer <token>`` when a token is set."""
    scheme = HTTPBearer(auto_error=False, description="Set when the daemon has an API token.")

    def guard(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not token_matches(given, token):
            raise HTTPException(401, detail=[{"loc": ["header", "authorization"],
                                              "msg": "missing or wrong bearer token",
                                              "type": "unauthorized"}],
                                headers={"WWW-Authenticate": "Bearer"})

    return guard


class SafeRoute(APIRoute):
    """Answers request validation errors itself: valid JSON (an echoed NaN is a string), a few
    errors at most, and only a short excerpt of each offending input."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except RequestValidationError as err:
                return JSONResponse({"detail": validation_detail(err.errors())},
                                    status_code=422)

        return handler


def validation_detail(errors: Any) -> list[dict[str, Any]]:
    """The error list in FastAPI's shape, inputs as excerpts (``bodies.validated`` has already
    kept the first MAX_ERRORS and a count of the rest)."""
    shown = []
    for error in list(errors)[:MAX_ERRORS + 1]:
        entry = {"loc": _printable(jsonable_encoder(error.get("loc", ()))),
                 "msg": excerpt(str(error.get("msg", "")), MAX_MESSAGE),
                 "type": error.get("type", "invalid")}
        if "input" in error:
            entry["input"] = _excerpt_of(error["input"])
        shown.append(entry)
    return shown


def _excerpt_of(value: Any) -> Any:
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str) and len(value) <= 80:
        return value
    try:
        text = value if isinstance(value, str) else json.dumps(jsonable_encoder(value),
                                                               default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return excerpt(text)


def _printable(value: Any) -> Any:
    if isinstance(value, list):
        return [_printable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


Prepare = Callable[[Models, Any, ApiSettings], Job]
# path, name, request body, response body, the endpoint function (endpoints, solar), summary
ENDPOINTS: list[tuple[str, str, type[BaseModel], type[BaseModel], Prepare, str]] = [
    ("/forecast/demand", "forecast_demand", DemandForecastRequest, ForecastResponse,
     endpoints.forecast_demand, "Demand forecast with prediction intervals from the demand "
     "champion."),
    ("/forecast/solar", "forecast_solar", SolarForecastRequest, ForecastResponse,
     solar.forecast_solar, "PV production forecast for a site from weather (physics + learned "
     "correction)."),
    ("/pricing/optimize", "pricing_optimize", PricingRequest, PricingResponse,
     endpoints.optimize_price, "Welfare-optimal price of a demand and a supply curve, with its "
     "components."),
    ("/pricing/clear", "pricing_clear", ClearRequest, ClearResponse, endpoints.clear,
     "Double-auction clearing of bids and offers."),
    ("/anomaly/detect", "anomaly_detect", AnomalyRequest, AnomalyResponse, endpoints.detect,
     "Anomalous readings with type, severity and recommended action."),
    ("/optimize/grid", "optimize_grid", DispatchRequest, DispatchResponse, endpoints.dispatch,
     "Optimal microgrid dispatch: storage, imports, line flows and nodal prices."),
]


def model_router(models: Models, token: str | None = None, limits: ApiSettings | None = None,
                 runner: Runner | None = None) -> APIRouter:
    """POST /forecast/demand, /forecast/solar, /pricing/optimize, /pricing/clear,
    /anomaly/detect, /optimize/grid, answered by the registered champions.

    ``limits`` (default: the defaults of ``[api]``) bound each request and set its time budget;
    ``runner`` runs the model calls (default :class:`InlineRunner`; the daemon passes worker
    processes); whoever makes the runner closes it."""
    limits = limits or ApiSettings()
    run = runner or InlineRunner()
    router = APIRouter(tags=["models"], dependencies=[Depends(bearer_guard(token))],
                       responses=_ERRORS, route_class=SafeRoute)

    async def answer(request: Request, prepare: Callable[[], Job],
                     shape: type[BaseModel]) -> Response:
        """Prepare (thread), compute (worker), shape and serialise (thread): the event loop
        only waits, so /healthz stays quick while large answers are built."""
        deadline = getattr(request.state, "deadline", time.monotonic() + limits.request_timeout_s)
        job: Job | None = None
        try:
            job = await run_in_threadpool(translate, (), prepare)
            remaining = deadline - time.monotonic()
            result = await run.run(translated, (job.compute, job.where, *job.args),
                                   budget_s=max(remaining, 0.001), gone=request.is_disconnected)
            finish = job.finish
            body = await run_in_threadpool(
                lambda: shape.model_validate(finite(finish(result))).model_dump_json())
            return Response(body, media_type="application/json")
        except Rejected as err:
            if job is not None:
                models.note(job.endpoint, err)
            raise HTTPException(err.status, detail=err.detail(), headers=err.headers) from err

    def add(path: str, name: str, request_model: type[BaseModel],
            response_model: type[BaseModel], prepare: Prepare, summary: str) -> None:
        async def endpoint(request: Request,
                           body: Any = Depends(body_of(request_model, run,
                                                       limits.request_timeout_s)),
                           ) -> Response:
            return await answer(request, lambda: prepare(models, body, limits), response_model)

        endpoint.__doc__ = summary
        router.add_api_route(path, endpoint, methods=["POST"], name=name,
                             response_model=response_model,
                             openapi_extra=documented(request_model))

    for path, name, request_model, response_model, prepare, summary in ENDPOINTS:
        add(path, name, request_model, response_model, prepare, summary)
    router.component_schemas = component_schemas(  # type: ignore[attr-defined]
        [request_model for _, _, request_model, *_ in ENDPOINTS])
    return router


def guard_requests(api: FastAPI, limits: ApiSettings, token: str | None = None,
                   open_paths: tuple[str, ...] = ()) -> None:
    """The request guard with the ``[api]`` limits and, when set, the bearer token (checked
    again by the router's dependency, which also documents it in OpenAPI); POSTs under
    ``open_paths`` (the committee's, signed by their sender) need no token."""
    limit_body_size(api, limits.max_body_bytes, max_json_depth=limits.max_json_depth,
                    body_timeout_s=limits.body_timeout_s, token=token, open_paths=open_paths)


def limit_body_size(api: FastAPI, max_bytes: int, *, max_json_depth: int = MAX_DEPTH,
                    body_timeout_s: float = 10.0, token: str | None = None,
                    open_paths: tuple[str, ...] = ()) -> None:
    """Refuse POSTs without the token (401), bodies over ``max_bytes`` (413), too slow (408)
    or nested too deep (422)."""
    api.add_middleware(RequestGuard, max_bytes=max_bytes, max_json_depth=max_json_depth,
                       body_timeout_s=body_timeout_s, token=token, open_paths=open_paths)


def routers_for(app: Application) -> list[APIRouter]:
    """The model routers for the parts ``app.build`` made (its store, its metrics, its
    ``[api]`` section), their calls in worker processes, and the stored forecasts
    (``GET /forecast/demand``).

    The bearer token comes from ``ORACLE_API_TOKEN`` or ``<secrets_dir>/api_token``; none
    means the endpoints are open (bind the API to localhost then)."""
    from oracle.api.workers import ModelWorkers
    settings = app.settings
    models = Models(app.registry, app.metrics)
    workers = ModelWorkers(settings.api.workers, settings.api.worker_memory_mb)
    router = model_router(models, token=api_token(settings), limits=settings.api,
                          runner=workers)
    router.on_shutdown.append(workers.close)  # the workers end with the app
    from oracle.api.stored import stored_router

    return [router, stored_router(app.engine, bearer_guard(api_token(settings)))]


def api_token(settings: Any) -> str | None:
    """``ORACLE_API_TOKEN``, else the file ``api_token`` in the secrets directory, else None
    (read by the one secret loader, :func:`oracle.config.load_secrets`)."""
    from oracle.config import load_secrets

    token = load_secrets(settings).api_token
    return token.get_secret_value() or None if token is not None else None

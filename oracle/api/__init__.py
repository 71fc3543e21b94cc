"""The HTTP API: the probes (``/healthz``, ``/readyz``, ``/metrics``), the model endpoints and
their schemas, the request guard, body parsing, the worker processes and the server."""

from oracle.api.guard import RequestGuard
from oracle.api.routes import bearer_guard, guard_requests, limit_body_size, model_router
from oracle.api.service import Models, Rejected, ServingConfig
from oracle.api.workers import InlineRunner, ModelWorkers

__all__ = [
    "InlineRunner",
    "ModelWorkers",
    "Models",
    "Rejected",
    "RequestGuard",
    "ServingConfig",
    "bearer_guard",
    "guard_requests",
    "limit_body_size",
    "model_router",
]

"""Models in production: the registry, the HTTP model endpoints, training, monitoring,
champion/challenger retraining and the evaluation report."""

from oracle.serving.guard import RequestGuard
from oracle.serving.registry import ArtifactTampered, LoadedModel, ModelRegistry, UnknownModel
from oracle.serving.routes import bearer_guard, guard_requests, limit_body_size, model_router
from oracle.serving.service import Models, Rejected, ServingConfig
from oracle.serving.workers import InlineRunner, ModelWorkers

__all__ = [
    "ArtifactTampered",
    "InlineRunner",
    "LoadedModel",
    "ModelRegistry",
    "ModelWorkers",
    "Models",
    "Rejected",
    "RequestGuard",
    "ServingConfig",
    "UnknownModel",
    "bearer_guard",
    "guard_requests",
    "limit_body_size",
    "model_router",
]

"""Models in production: the registry, the HTTP model endpoints, training, monitoring,
champion/challenger retraining and the evaluation report."""

from oracle.serving.registry import ArtifactTampered, LoadedModel, ModelRegistry, UnknownModel
from oracle.serving.routes import BodySizeLimit, bearer_guard, limit_body_size, model_router
from oracle.serving.service import Models, Rejected, ServingConfig

__all__ = [
    "ArtifactTampered",
    "BodySizeLimit",
    "LoadedModel",
    "ModelRegistry",
    "Models",
    "Rejected",
    "ServingConfig",
    "UnknownModel",
    "bearer_guard",
    "limit_body_size",
    "model_router",
]

"""The model lifecycle: the registry of trained versions, training, champion/challenger
retraining, monitoring, and the evaluation report (data and HTML)."""

from oracle.lifecycle.registry import ArtifactTampered, LoadedModel, ModelRegistry, UnknownModel

__all__ = ["ArtifactTampered", "LoadedModel", "ModelRegistry", "UnknownModel"]

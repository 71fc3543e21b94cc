"""Errors raised by the pure models.

    ModelError              base: the model could not produce a result
    ├── InvalidInput        bad data or arguments (names the field, row and value); also ValueError
    ├── NotFittedError      predict/transform before fit; also sklearn's NotFittedError
    └── SolveFailed         an optimisation was infeasible, unbounded or the solver failed

The daemon translates these into ``oracle.errors`` where they enter its code.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFitted


class ModelError(Exception):
    """A model could not produce a result."""


class InvalidInput(ModelError, ValueError):
    """Input data or arguments are unusable; the message names field, row and value."""

    def __init__(self, message: str, *, field: str | None = None, row: object = None,
                 value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.row = row
        self.value = value


class NotFittedError(ModelError, _SklearnNotFitted):
    """The model was used before ``fit``."""


def check_fitted(model: object, attribute: str, *, hint: str = "call fit() first") -> None:
    """The one fitted check of ``models``: raise :class:`NotFittedError` unless ``model`` has
    its learned ``attribute`` (set by ``fit``, scikit-learn style)."""
    if not hasattr(model, attribute):
        raise NotFittedError(f"{type(model).__name__} is not fitted; {hint}")


class SolveFailed(ModelError):
    """An optimisation did not reach an optimal solution; ``binding`` names the constraint group."""

    def __init__(self, message: str, *, status: str | None = None,
                 binding: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.binding = binding

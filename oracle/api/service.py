"""What the model endpoints do, without HTTP: pick the registered model, call the pure models,
shape the answer, and turn every failure into a ``Rejected`` that names the field.

The answering model is the champion of the endpoint's registry name (or an explicit
``version``). Forecasters and detectors are refit on the request's history with the champion's
hyperparameters, since the request fixes the forecast origin; pricing and dispatch have no learned
state, so their champion contributes its registered parameters. Without a champion a sensible
default is fitted on the request data, and the response says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.base import clone

from oracle.api.schemas import ModelChoice, Series
from oracle.errors import InputTooLarge, OracleError, SolveFailed, SourceDataInvalid
from oracle.jsonsafe import excerpt
from oracle.lifecycle.registry import ArtifactTampered, ModelRegistry, UnknownModel
from oracle.model_errors import model_errors
from oracle.store.tables import ModelVersion
from oracle.telemetry import Metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_MESSAGE = 500  # characters of an error message sent to the client


class Rejected(Exception):
    """A request the models cannot answer: HTTP status, the field's location and why.

    ``counted`` marks a model failure (``model_errors`` in /metrics). Picklable, since worker
    processes raise it too."""

    def __init__(self, status: int, loc: tuple[str | int, ...], msg: str, kind: str, *,
                 counted: bool = False, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status, self.loc, self.msg, self.kind = status, loc, msg, kind
        self.counted = counted
        self.headers = headers

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rejected, (self.status, self.loc, self.msg, self.kind, self.counted,
                            self.headers))

    def detail(self) -> list[dict[str, Any]]:
        return [{"loc": ["body", *self.loc], "msg": excerpt(self.msg, MAX_MESSAGE),
                 "type": self.kind}]


def _rejected(status: int, loc: tuple[str | int, ...], msg: str, kind: str, counted: bool,
              headers: dict[str, str] | None) -> Rejected:
    return Rejected(status, loc, msg, kind, counted=counted, headers=headers)


@dataclass(frozen=True)
class Job:
    """One model call: ``compute(*args)`` runs in a worker process, ``finish(result)`` shapes
    the answer here. ``where`` locates the input a model error is about."""

    endpoint: str
    where: tuple[str | int, ...]
    compute: Callable[..., Any]
    args: tuple[Any, ...]
    finish: Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class ServingConfig:
    """Registry names per endpoint and the defaults used when no champion is registered."""

    names: dict[str, str] = field(default_factory=lambda: {
        "demand": "demand", "solar": "solar", "pricing": "pricing", "anomaly": "anomaly",
        "dispatch": "dispatch"})
    default_forecaster: str = "seasonal_naive"
    default_max_horizon: int = 48
    rule: str = "uniform"
    floor: float = 0.05
    cap: float = 0.50


@dataclass(frozen=True)
class Choice:
    """The resolved model: a registry record (None: the default) and how it was chosen."""

    name: str
    record: ModelVersion | None
    source: str

    @property
    def version(self) -> str | None:
        return self.record.version if self.record is not None else None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.record.params or {}) if self.record is not None else {}

    def provenance(self, note: str) -> dict[str, Any]:
        return {"model": self.name, "version": self.version, "source": self.source, "note": note}


class Models:
    """Registry lookups and error translation shared by the endpoint functions."""

    def __init__(self, registry: ModelRegistry, metrics: Metrics | None = None,
                 config: ServingConfig | None = None) -> None:
        self.registry = registry
        self.metrics = metrics
        self.config = config or ServingConfig()

    def choose(self, request: ModelChoice, endpoint: str) -> Choice:
        """The explicit version, else the champion; an explicitly named model must exist."""
        default = self.config.names[endpoint]
        name = request.model or default
        if request.version is not None:
            return Choice(name, self.registry.get(name, request.version), "version")
        record = self.registry.champion(name)
        if record is None and request.model is not None and request.model != default:
            self.registry.get(name)  # raises UnknownModel naming model or version
        return Choice(name, record, "champion" if record is not None else "default")

    def load(self, choice: Choice) -> Any:
        assert choice.record is not None
        return self.registry.load(choice.name, choice.record.version).model

    def run(self, endpoint: str, where: tuple[str | int, ...], call: Callable[[], T]) -> T:
        """Call into the models; translate every failure into ``Rejected`` (never a 500)."""
        try:
            return translate(where, call)
        except Rejected as err:
            self.note(endpoint, err)
            raise

    def note(self, endpoint: str, err: Rejected) -> None:
        """Count a model failure and log a model's unexpected refusal once per request."""
        if err.counted and self.metrics is not None:
            self.metrics.model_errors.labels(model=endpoint).inc()
        if err.kind == "model_rejected":
            log.warning("%s: %s", endpoint, excerpt(err.msg, MAX_MESSAGE))


def translate(where: tuple[str | int, ...], call: Callable[[], T]) -> T:
    """``call()``, with every failure a model or our code can raise on bad input turned into
    ``Rejected`` naming the field (used here and in the worker processes)."""
    try:
        with model_errors():  # the one boundary: the models' errors become ours
            return call()
    except Rejected:
        raise
    except UnknownModel as err:
        raise Rejected(404, (err.field or "model",), str(err), "unknown_model") from err
    except ImportError as err:  # a model family missing from this installation
        raise Rejected(503, ("model",), f"model code unavailable: {err}", "model_unavailable",
                       counted=True) from err
    except ArtifactTampered as err:
        raise Rejected(503, ("model",), str(err), "artifact_rejected", counted=True) from err
    except InputTooLarge as err:
        raise Rejected(422, (*err.field.split("."),), str(err), "too_large") from err
    except SourceDataInvalid as err:
        raise Rejected(422, (*where, err.field or "body"), str(err), "invalid_input") from err
    except SolveFailed as err:
        raise Rejected(422, (*where, err.binding or "grid"), str(err), "solve_failed") from err
    except OracleError as err:
        raise Rejected(422, where, str(err), "model_error", counted=True) from err
    except MemoryError as err:
        raise Rejected(422, where, "the request needs more memory than a model worker may use "
                       "(api.worker_memory_mb)", "too_large", counted=True) from err
    except (ValueError, TypeError, ArithmeticError, KeyError, IndexError) as err:
        # The models validate their inputs; anything else that escapes is still this
        # request's data (e.g. overflow on extreme numbers), so it is a 4xx, logged once.
        raise Rejected(422, where, f"the model could not use this input: "
                       f"{type(err).__name__}: {err}", "model_rejected", counted=True) from err


def translated(compute: Callable[..., T], where: tuple[str | int, ...], *args: Any) -> T:
    """``compute(*args)`` under :func:`translate` (a picklable call for the workers)."""
    return translate(where, lambda: compute(*args))


def series_of(series: Series, field_name: str) -> pd.Series:
    """A request series as a pandas Series with a regular frequency (or a 422 naming it)."""
    index = pd.DatetimeIndex(pd.to_datetime(series.timestamps, utc=True))
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise Rejected(422, (field_name, "timestamps"), "timestamps must be strictly increasing",
                       "invalid_input")
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq is None:
        raise Rejected(422, (field_name, "timestamps"), "timestamps must be equally spaced "
                       "(at least 3, e.g. hourly or half-hourly)", "invalid_input")
    return pd.Series(np.asarray(series.values, dtype=float), index=index.as_unit("ns"),
                     name="y").asfreq(freq)


def refit_copy(model: Any) -> Any:
    """An unfitted copy with the same hyperparameters (scikit-learn's clone when possible)."""
    try:
        return clone(model)
    except TypeError:
        import inspect

        names = [p for p in inspect.signature(type(model).__init__).parameters if p != "self"]
        return type(model)(**{n: getattr(model, n) for n in names if hasattr(model, n)})


def finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, numpy scalars Python numbers (recursively)."""
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value

"""The model-error boundary: where the pure models' errors enter the daemon, for the jobs, the
CLI and the HTTP API alike (translated once, ``raise ... from err``).

    models.errors.InvalidInput  ->  SourceDataInvalid   field, row and value kept
    models.errors.SolveFailed   ->  SolveFailed         the binding constraint group kept
    models.errors.ModelError    ->  ModelError          not fitted, diverged
    any other exception         ->  ModelError          only with ``unexpected=True`` (a daemon
                                                        stage: a bug in one model skips that
                                                        stage, not every tick), logged once
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from models import errors as model
from oracle.errors import ModelError, OracleError, SolveFailed, SourceDataInvalid

log = logging.getLogger("oracle.model_errors")


def translate(err: model.ModelError, where: str | None = None) -> OracleError:
    """The daemon's error for a model's ``err``; ``where`` (a stage, a file) prefixes the message."""
    message = f"{where}: {err}" if where else str(err)
    if isinstance(err, model.InvalidInput):
        return SourceDataInvalid(message, field=err.field, row=err.row, value=err.value)
    if isinstance(err, model.SolveFailed):
        return SolveFailed(message, binding=err.binding, status=err.status)
    return ModelError(message)


@contextmanager
def model_errors(where: str | None = None, *, unexpected: bool = False) -> Iterator[None]:
    """Run model code with its errors translated (see the module docstring)."""
    try:
        yield
    except model.ModelError as err:
        raise translate(err, where) from err
    except OracleError:
        raise  # ours already says what happens next (retry, skip, refuse)
    except Exception as err:
        if not unexpected:
            raise
        log.exception("%s: unexpected %s from the models", where, type(err).__name__)
        prefix = f"{where}: " if where else ""
        raise ModelError(f"{prefix}{type(err).__name__}: {err}") from err

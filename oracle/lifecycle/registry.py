"""The model registry: trained models as versioned artifacts with their SHA-256 in the store.

Every version is a row of ``model_versions`` (name, version, family, parameters, training data
window, backtest metrics, artifact path and digest, stage). The artifact is written under
``<data_dir>/models/<name>/<version>.model``; ``load`` hashes the file first and refuses a file
whose digest differs from the stored one, so a tampered artifact is never unpickled.

Stages: ``candidate`` (registered), ``champion`` (serving; at most one per name) and
``archived`` (a former champion). Promotions and rollbacks are audited in the same transaction.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import math
import os
import pickle
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from oracle.errors import ModelError, SourceDataInvalid
from oracle.store import model_rows
from oracle.store.audit import append_entry, entries
from oracle.store.engine import session_scope
from oracle.store.tables import ModelVersion

log = logging.getLogger("oracle.registry")

STAGES = ("candidate", "champion", "archived")
FAMILIES = ("forecasting", "solar", "pricing", "anomaly", "optimization")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENVELOPE_FORMAT = 1


class UnknownModel(SourceDataInvalid):
    """No registered model has this name or version; ``field`` is ``model`` or ``version``."""


class ArtifactTampered(ModelError):
    """An artifact is missing or its SHA-256 differs from the registry's; it is not loaded."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified, deserialised model with its registry record."""

    record: ModelVersion
    model: Any


def check_name(name: str) -> str:
    """Model names become directory names: letters, digits, ``_ . -``, at most 64."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourceDataInvalid(f"model name {name!r} must be 1-64 letters, digits, '_', '.' or "
                                "'-', starting with a letter or digit", field="model", value=name)
    return name


def serialize(model: Any) -> bytes:
    """Bytes of a model: its own ``dumps()`` when it has one (and a ``loads``), else pickle."""
    cls = type(model)
    if callable(getattr(model, "dumps", None)) and callable(getattr(cls, "loads", None)):
        envelope = {"format": _ENVELOPE_FORMAT, "codec": "dumps",
                    "class": f"{cls.__module__}:{cls.__qualname__}", "payload": model.dumps()}
    else:
        envelope = {"format": _ENVELOPE_FORMAT, "codec": "pickle",
                    "payload": pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)}
    return pickle.dumps(envelope, protocol=pickle.HIGHEST_PROTOCOL)


def deserialize(data: bytes) -> Any:
    """Inverse of :func:`serialize`; only call it on bytes whose digest was verified."""
    envelope = pickle.loads(data)  # digest verified by the caller
    if not isinstance(envelope, dict) or envelope.get("format") != _ENVELOPE_FORMAT:
        raise ArtifactTampered("artifact has an unknown format")
    if envelope["codec"] == "pickle":
        return pickle.loads(envelope["payload"])
    module, _, qualname = envelope["class"].partition(":")
    cls: Any = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return cls.loads(envelope["payload"])


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ModelRegistry:
    """Register, load, promote and roll back model versions (store rows + artifact files)."""

    def __init__(self, engine: Engine, artifact_dir: Path) -> None:
        self.engine = engine
        self.artifact_dir = Path(artifact_dir)

    # ------------------------------------------------------------ writing

    def register(self, name: str, family: str, model: Any, *, params: dict[str, Any] | None = None,
                 data_start: datetime | None = None, data_end: datetime | None = None,
                 metrics: dict[str, Any] | None = None) -> ModelVersion:
        """Write the artifact, then the row (stage ``candidate``) with the next version number."""
        check_name(name)
        if family not in FAMILIES:
            raise SourceDataInvalid(f"family {family!r} must be one of {', '.join(FAMILIES)}",
                                    field="family", value=family)
        data = serialize(model)
        for _attempt in range(5):
            version = self._next_version(name)
            relative = Path(name) / f"{version}.model"
            path = self.artifact_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            row = ModelVersion(name=name, version=version, family=family,
                               params=jsonable(params or {}), data_start=data_start,
                               data_end=data_end, metrics=jsonable(metrics or {}),
                               artifact_path=str(relative), artifact_sha256=sha256_file(path))
            try:
                with session_scope(self.engine) as session:
                    model_rows.add_version(session, row)
                    append_entry(session, "model.register", {
                        "name": name, "version": version, "family": family,
                        "sha256": row.artifact_sha256, "metrics": row.metrics}, ref=f"model:{name}")
                return row
            except IntegrityError:  # another writer took this version number
                continue
        raise ModelError(f"could not allocate a version for model {name!r}")

    def _next_version(self, name: str) -> str:
        with Session(self.engine) as session:
            versions = model_rows.version_labels(session, name)
        numbers = [int(v) for v in versions if v.isdigit()]
        return str(max(numbers, default=0) + 1)

    def promote(self, name: str, version: str, *, reason: str = "manual",
                scores: dict[str, Any] | None = None, actor: str = "oracle") -> ModelVersion:
        """Make ``version`` the champion; the previous champion becomes ``archived``."""
        with session_scope(self.engine) as session:
            target = self._row(session, name, version)
            previous = self._champion_row(session, name)
            if previous is not None and previous.version != target.version:
                model_rows.set_stage(session, previous, "archived")
            model_rows.set_stage(session, target, "champion")
            append_entry(session, "model.promote", jsonable({
                "name": name, "version": version,
                "previous": previous.version if previous is not None else None,
                "reason": reason, "scores": scores or {}}), ref=f"model:{name}", actor=actor)
            was = previous.version if previous is not None else None
        if was != version:  # a change of champion: said once, after it is committed
            log.info("model %s version %s is now the champion (was %s; reason: %s)", name,
                     version, was or "none", reason)
        return target

    def rollback(self, name: str, *, reason: str = "manual", actor: str = "oracle") -> ModelVersion:
        """Restore the champion that the current champion replaced; the current one is archived."""
        with session_scope(self.engine) as session:
            current = self._champion_row(session, name)
            if current is None:
                self._require_name(session, name)
                raise UnknownModel(f"model {name!r} has no champion to roll back",
                                   field="model", value=name)
            previous = self._replaced_by(session, name, current.version)
            if previous is None:
                raise UnknownModel(f"model {name!r} version {current.version} replaced no earlier "
                                   "champion; nothing to roll back to", field="version",
                                   value=current.version)
            restored = self._row(session, name, previous)
            model_rows.set_stage(session, current, "archived")
            model_rows.set_stage(session, restored, "champion")
            append_entry(session, "model.rollback", {
                "name": name, "from_version": current.version, "to_version": restored.version,
                "reason": reason}, ref=f"model:{name}", actor=actor)
            moved = (current.version, restored.version)
        log.info("model %s rolled back from version %s to %s (reason: %s)", name, *moved, reason)
        return restored

    def _replaced_by(self, session: Session, name: str, version: str) -> str | None:
        """The champion that ``version``'s latest promotion replaced, from the audit log."""
        for entry in entries(session, "model.promote", f"model:{name}", newest_first=True):
            payload = json.loads(entry.payload)
            if payload.get("version") == version and payload.get("previous") != version:
                return payload.get("previous")
        return None

    # ------------------------------------------------------------ reading

    def get(self, name: str, version: str | None = None) -> ModelVersion:
        """One version's row; ``version=None`` is the champion. Unknown names/versions raise."""
        with Session(self.engine) as session:
            if version is None:
                row = self._champion_row(session, name)
                if row is None:
                    self._require_name(session, name)
                    raise UnknownModel(f"model {name!r} has no champion; promote a version first",
                                       field="version", value=None)
                return row
            return self._row(session, name, version)

    def champion(self, name: str) -> ModelVersion | None:
        with Session(self.engine) as session:
            return self._champion_row(session, name)

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name``), newest first within a name."""
        with Session(self.engine) as session:
            rows = model_rows.versions(session, name)
        return sorted(rows, key=lambda r: (r.name, -int(r.version) if r.version.isdigit() else 0))

    def load(self, name: str, version: str | None = None) -> LoadedModel:
        """The verified model of a version (default: the champion)."""
        record = self.get(name, version)
        return LoadedModel(record, deserialize(self.read_artifact(record)))

    def read_artifact(self, record: ModelVersion) -> bytes:
        """The artifact's bytes, after checking its SHA-256 against the registry."""
        if not record.artifact_path or not record.artifact_sha256:
            raise ArtifactTampered(f"model {record.name} version {record.version} has no artifact")
        path = Path(record.artifact_path)
        if not path.is_absolute():
            path = self.artifact_dir / path
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ArtifactTampered(f"model {record.name} version {record.version}: cannot read "
                                   f"artifact {path}: {err.strerror}") from err
        digest = hashlib.sha256(data).hexdigest()
        if digest != record.artifact_sha256:
            raise ArtifactTampered(
                f"model {record.name} version {record.version}: artifact {path} has SHA-256 "
                f"{digest}, the registry expects {record.artifact_sha256}; refusing to load a "
                "tampered or corrupted artifact")
        return data

    def _require_name(self, session: Session, name: str) -> None:
        if not model_rows.has_model(session, name):
            known = model_rows.model_names(session)
            raise UnknownModel(f"unknown model {name!r}; registered: "
                               f"{', '.join(known) or '(none)'}", field="model", value=name)

    def _row(self, session: Session, name: str, version: str) -> ModelVersion:
        row = model_rows.version_row(session, name, version)
        if row is None:
            self._require_name(session, name)
            raise UnknownModel(f"model {name!r} has no version {version!r}", field="version",
                               value=version)
        return row

    @staticmethod
    def _champion_row(session: Session, name: str) -> ModelVersion | None:
        return model_rows.champion_row(session, name)


def jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, non-finite floats to None, others to str."""
    if hasattr(value, "item") and not isinstance(value, dict | list | tuple):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)

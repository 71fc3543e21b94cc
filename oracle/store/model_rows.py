"""Model rows: the registry's versions (``model_versions``) and the runs that trained, scored or
retrained them (``model_runs``), read and written in the caller's session."""

from __future__ import annotations

from sqlmodel import Session, col, select

from oracle.store.tables import ModelRun, ModelVersion


def add_version(session: Session, row: ModelVersion) -> None:
    """Insert a new version row (a taken (name, version) fails on commit)."""
    session.add(row)


def set_stage(session: Session, row: ModelVersion, stage: str) -> None:
    """Move a version to ``stage`` (candidate, champion or archived)."""
    row.stage = stage
    session.add(row)


def version_row(session: Session, name: str, version: str) -> ModelVersion | None:
    """The row of ``name`` version ``version``, or None."""
    return session.get(ModelVersion, (name, version))


def champion_row(session: Session, name: str) -> ModelVersion | None:
    """The version of ``name`` in stage ``champion``, or None."""
    return session.exec(select(ModelVersion).where(ModelVersion.name == name)
                        .where(ModelVersion.stage == "champion")).first()


def version_labels(session: Session, name: str) -> list[str]:
    """The version labels of ``name`` (unordered; none: the name is unknown)."""
    return list(session.exec(select(ModelVersion.version)
                             .where(ModelVersion.name == name)).all())


def has_model(session: Session, name: str) -> bool:
    """Whether any version of ``name`` is registered."""
    return session.exec(select(ModelVersion.version)
                        .where(ModelVersion.name == name)).first() is not None


def model_names(session: Session) -> list[str]:
    """Every registered model name, sorted, each once."""
    return sorted(set(session.exec(select(ModelVersion.name)).all()))


def versions(session: Session, name: str | None = None) -> list[ModelVersion]:
    """Every version row (of ``name``), in no particular order."""
    query = select(ModelVersion)
    if name is not None:
        query = query.where(ModelVersion.name == name)
    return list(session.exec(query).all())


def add_run(session: Session, run: ModelRun) -> None:
    """Record one training, evaluation or retraining run."""
    session.add(run)


def recent_runs(session: Session, limit: int = 50) -> list[ModelRun]:
    """The last ``limit`` runs, newest first."""
    return list(session.exec(select(ModelRun).order_by(col(ModelRun.id).desc())
                             .limit(limit)).all())

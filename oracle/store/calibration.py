"""Calibration repository: the live calibrator state of a forecast series, read and written in
the caller's session (the forecast stage saves it with the forecast it adjusted)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from oracle.store.tables import ForecastCalibration
from oracle.store.upsert import upsert


def load_calibration(session: Session, target: str, entity_id: str) -> ForecastCalibration | None:
    """The stored calibration of (target, entity_id), or None before its first forecast."""
    return session.exec(select(ForecastCalibration).where(
        col(ForecastCalibration.target) == target,
        col(ForecastCalibration.entity_id) == entity_id)).first()


def save_calibration(session: Session, target: str, entity_id: str, state: dict[str, Any],
                     watermark: datetime | None) -> None:
    """Replace the calibration of (target, entity_id)."""
    upsert(session, ForecastCalibration,
           [{"target": target, "entity_id": entity_id, "state": state, "watermark": watermark,
             "updated_at": datetime.now(UTC)}], key=("target", "entity_id"))


def calibrations(session: Session, target: str) -> list[ForecastCalibration]:
    """The stored calibrations of every ``target`` series, in no particular order."""
    return list(session.exec(select(ForecastCalibration).where(
        col(ForecastCalibration.target) == target)).all())

"""Meter readings: validation, corruption findings and the per-meter profiles behind the features.

Input is long format: ``meter_id, ts, consumption_kwh, production_kwh`` and optionally
``ghi_wm2`` (irradiance) or ``expected_production_kwh``. Validation never drops a bad reading
silently: missing values, impossible values, duplicate timestamps and gaps become *findings*
(``corruption`` column) that the classifier reports as data corruption.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.errors import InvalidInput

REQUIRED = ("meter_id", "ts", "consumption_kwh", "production_kwh")
OPTIONAL_NUMERIC = ("ghi_wm2", "expected_production_kwh")
DAYLIGHT_GHI = 50.0  # W/m², below this the sun does not count


def validate_readings(frame: object, *, name: str = "frame",
                      max_kwh: float = 50.0) -> pd.DataFrame:
    """Check columns and types, sort by meter and time and mark corrupt rows.

    Returns a copy with ``ts`` as UTC timestamps and a ``corruption`` column: ``""`` for a clean
    row, else ``missing_value``, ``impossible_value``, ``duplicate`` or ``timestamp_gap``.
    Raises InvalidInput (naming field, row and value) for what cannot be read at all.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"{name} must be a pandas DataFrame, got {type(frame).__name__}",
                           field=name, value=type(frame).__name__)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{name}: missing column(s) {', '.join(missing)}",
                           field=missing[0], value=None)
    if frame.empty:
        raise InvalidInput(f"{name} has no rows", field=name, value=0)
    out = frame.reset_index(drop=True).copy()
    if out["meter_id"].isna().any():
        row = int(np.flatnonzero(out["meter_id"].isna())[0])
        raise InvalidInput(f"{name}: meter_id is missing at row {row}", field="meter_id",
                           row=row, value=None)
    out["meter_id"] = out["meter_id"].astype(str)
    ts = pd.to_datetime(out["ts"], utc=True, errors="coerce", format="mixed")
    if ts.isna().any():
        row = int(np.flatnonzero(ts.isna())[0])
        raise InvalidInput(f"{name}: ts at row {row} is not a timestamp: {out['ts'].iloc[row]!r}",
                           field="ts", row=row, value=out["ts"].iloc[row])
    out["ts"] = ts
    for col in (*REQUIRED[2:], *[c for c in OPTIONAL_NUMERIC if c in out.columns]):
        out[col] = _numeric(out[col], col, name)
    out["_row"] = np.arange(len(out))
    out = out.sort_values(["meter_id", "ts", "_row"], kind="stable").reset_index(drop=True)
    out["corruption"] = _corruption(out, max_kwh)
    return out


def _numeric(col: pd.Series, field: str, name: str) -> pd.Series:
    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna() & col.notna() & (col.astype(str).str.strip() != "")
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InvalidInput(f"{name}: {field} at row {row} is not a number: {col.iloc[row]!r}",
                           field=field, row=row, value=col.iloc[row])
    return values.astype(float)


def _corruption(df: pd.DataFrame, max_kwh: float) -> np.ndarray:
    c = df["consumption_kwh"].to_numpy()
    p = df["production_kwh"].to_numpy()
    reason = np.full(len(df), "", dtype=object)
    gap = _gaps(df)
    reason[gap] = "timestamp_gap"
    reason[df.duplicated(["meter_id", "ts"], keep="first").to_numpy()] = "duplicate"
    impossible = (np.isinf(c) | np.isinf(p) | (p < 0) | (np.abs(c) > max_kwh) | (p > max_kwh))
    reason[impossible] = "impossible_value"
    reason[np.isnan(c) | np.isnan(p)] = "missing_value"
    return reason


def _gaps(df: pd.DataFrame) -> np.ndarray:
    """Rows that follow a hole longer than 1.5 of the usual step between readings."""
    ns = df["ts"].astype("int64").to_numpy()
    same = df["meter_id"].to_numpy()[1:] == df["meter_id"].to_numpy()[:-1]
    step = infer_step(df).value
    return np.r_[False, same & (np.diff(ns) > 1.5 * step)]


def infer_step(df: pd.DataFrame) -> pd.Timedelta:
    """The most common spacing between a meter's readings (30 minutes if unknowable)."""
    ns = df["ts"].astype("int64").to_numpy()
    same = df["meter_id"].to_numpy()[1:] == df["meter_id"].to_numpy()[:-1]
    d = np.diff(ns)[same]
    d = d[d > 0]
    if d.size == 0:
        return pd.Timedelta(minutes=30)
    values, counts = np.unique(d, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def slot_of(ts: pd.Series, step: pd.Timedelta) -> np.ndarray:
    """Seasonal slot: time-of-day bucket, offset by a day's worth of slots on weekends."""
    per_day = max(1, int(pd.Timedelta(days=1) / step))
    minutes = ts.dt.hour.to_numpy() * 60 + ts.dt.minute.to_numpy()
    tod = (minutes // max(1, int(step / pd.Timedelta(minutes=1)))).astype(int) % per_day
    weekend = (ts.dt.dayofweek.to_numpy() >= 5).astype(int)
    return tod + weekend * per_day

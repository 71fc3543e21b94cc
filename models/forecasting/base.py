"""The point-model protocol every forecaster implements, and the input checks they share.

A point model forecasts the mean path; :class:`models.forecasting.Forecaster` wraps any of them
and adds conformal intervals. Season lengths come from ``y.index.freq``: 24 and 168 for hourly
data, 48 and 336 for half-hourly data (one day and one week).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from models import errors
from models.errors import InvalidInput


@runtime_checkable
class PointModel(Protocol):
    """One point-forecasting model.

    ``y`` has a regular DatetimeIndex (hourly or half-hourly, freq set); ``predict`` returns an
    array of shape ``(horizon,)``.
    """

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> PointModel: ...

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray: ...


def steps_per_day(freq: pd.offsets.BaseOffset | str | None) -> int:
    """Number of steps in one day for a fixed frequency that divides a day (e.g. 1h -> 24)."""
    if freq is None:
        raise InvalidInput("y.index has no frequency; give a regular DatetimeIndex with freq set",
                           field="y.index.freq", value=None)
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError) as err:
        raise InvalidInput(f"y.index.freq {freq!r} is not a fixed step; use e.g. '1h' or '30min'",
                           field="y.index.freq", value=str(freq)) from err
    day = pd.Timedelta(days=1)
    if step <= pd.Timedelta(0) or step > day or day % step != pd.Timedelta(0):
        raise InvalidInput(
            f"y.index.freq {freq!r} must divide one day (e.g. '1h', '30min', '15min')",
            field="y.index.freq", value=str(freq))
    return int(day / step)


def season_lengths(freq: pd.offsets.BaseOffset | str | None) -> tuple[int, int]:
    """Daily and weekly season lengths in steps for ``freq`` (hourly -> (24, 168))."""
    day = steps_per_day(freq)
    return day, 7 * day


def check_series(y: pd.Series, *, min_length: int, name: str = "y") -> pd.Series:
    """Validate a series: regular DatetimeIndex with freq, finite values, at least ``min_length``.

    Returns it as float64. Raises :class:`InvalidInput` naming the field, row and value.
    """
    if not isinstance(y, pd.Series):
        raise InvalidInput(f"{name} must be a pandas Series, got {type(y).__name__}",
                           field=name, value=type(y).__name__)
    if not isinstance(y.index, pd.DatetimeIndex):
        raise InvalidInput(f"{name} must have a DatetimeIndex, got {type(y.index).__name__}",
                           field=f"{name}.index", value=type(y.index).__name__)
    freq = y.index.freq
    if freq is None:
        inferred = pd.infer_freq(y.index) if len(y) >= 3 else None
        raise InvalidInput(
            f"{name}.index has no frequency (inferred: {inferred!r}); resample to a regular grid "
            "and set freq (e.g. y.asfreq('1h'))", field=f"{name}.index.freq", value=inferred)
    steps_per_day(freq)
    try:
        values = pd.to_numeric(y, errors="raise").astype("float64")
    except (ValueError, TypeError) as err:
        raise InvalidInput(f"{name} must be numeric: {err}", field=name, value=None) from err
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInput(
            f"{name} has {int(bad.sum())} missing or non-finite value(s); first at row {i} "
            f"({y.index[i]}): {values.iloc[i]!r}; fill gaps first",
            field=name, row=y.index[i], value=values.iloc[i])
    if len(values) < min_length:
        raise InvalidInput(
            f"{name} has {len(values)} values; this model needs at least {min_length}",
            field=name, row=len(values), value=len(values))
    return values


def check_positive_int(value: object, name: str) -> int:
    """``value`` as an int when it is a positive integer (not a bool); else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InvalidInput(f"{name} must be a positive integer, got {value!r}", field=name,
                           value=value)
    return int(value)


def check_horizon(horizon: object) -> int:
    """A horizon must be a positive integer number of steps."""
    return check_positive_int(horizon, "horizon")


def check_fitted(model: object, attribute: str) -> None:
    """:func:`models.errors.check_fitted` for a point model (fitted on a series ``y``)."""
    errors.check_fitted(model, attribute, hint="call fit(y) first")


def repeat_cycle(cycle: np.ndarray, horizon: int) -> np.ndarray:
    """``cycle`` repeated end to end and cut to ``horizon`` values (seasonal-naive style)."""
    return np.tile(cycle, -(-horizon // len(cycle)))[:horizon]


def future_index(index: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps following ``index`` at its frequency."""
    return pd.date_range(index[-1] + index.freq, periods=horizon, freq=index.freq,
                         name=index.name)


def as_frame(X: object, name: str) -> pd.DataFrame:
    """``X`` itself when it is a DataFrame; otherwise a clear error naming ``name``."""
    if not isinstance(X, pd.DataFrame):
        raise InvalidInput(f"{name} must be a DataFrame, got {type(X).__name__}", field=name,
                           value=type(X).__name__)
    return X


def exog_values(X: object, index: pd.DatetimeIndex, columns: list[str], name: str, *,
                allow_nan: bool = False) -> pd.DataFrame:
    """Exogenous values for exactly ``index`` and ``columns`` as floats: every column present,
    a row for every timestamp, numeric, no infinities (and no NaN unless ``allow_nan``)."""
    frame = as_frame(X, name)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{name} is missing column {missing[0]!r}", field=missing[0])
    absent = index.difference(frame.index)
    if len(absent):
        raise InvalidInput(f"{name} has no row for {absent[0]} ({len(absent)} missing)",
                           field=name, row=absent[0])
    sub = frame.loc[index, columns]
    for col in columns:
        if not pd.api.types.is_numeric_dtype(sub[col].dtype):
            raise InvalidInput(f"{name} column {col!r} must be numeric, got {sub[col].dtype}",
                               field=col, value=str(sub[col].dtype))
    values = sub.to_numpy(dtype=float)
    bad = np.isinf(values) if allow_nan else ~np.isfinite(values)
    if bad.any():
        r, c = map(int, np.argwhere(bad)[0])
        what = "infinite" if np.isinf(values[r, c]) else "missing"
        raise InvalidInput(f"{name} column {columns[c]!r} is {what} at row {r} ({index[r]})",
                           field=columns[c], row=index[r], value=values[r, c])
    return pd.DataFrame(values, index=index, columns=columns)

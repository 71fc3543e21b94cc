"""Preprocessing: regular gap filling, robust (MAD) outlier handling and scaling.

Transformers follow scikit-learn (``fit`` learns, ``transform`` applies, learned state ends in
``_``) and keep pandas indexes and column names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from models.errors import InvalidInput, check_fitted
from models.features import infer_freq, validate_index

Frame: TypeAlias = pd.Series | pd.DataFrame
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class GapFill:
    """Result of :func:`fill_gaps`: the regular data and the gaps too long to interpolate."""

    data: Frame
    long_gaps: pd.DataFrame  # columns: column, start, end, steps
    filled: int  # number of values interpolated


def fill_gaps(data: Frame, freq: str | pd.Timedelta | None = None, max_gap: int = 3,
              method: str = "time") -> GapFill:
    """Regularise ``data`` to ``freq``, interpolate runs of <= ``max_gap`` missing steps.

    Longer runs stay NaN and are reported in ``long_gaps`` so callers can decide (skip the
    interval, alert); values are never invented across them.
    """
    _check_frame(data)
    if max_gap < 0:
        raise InvalidInput(f"max_gap must be >= 0, got {max_gap}", field="max_gap", row=None,
                           value=max_gap)
    step = pd.Timedelta(freq) if freq is not None else infer_freq(data.index)
    off = (data.index - data.index[0]) % step
    if (off != pd.Timedelta(0)).any():
        row = int(np.flatnonzero(off != pd.Timedelta(0))[0])
        raise InvalidInput(f"timestamp {data.index[row]} at row {row} is off the {step} grid",
                           field="index", row=row, value=data.index[row])
    regular = data.reindex(pd.date_range(data.index[0], data.index[-1], freq=step))
    frame = regular.to_frame() if isinstance(regular, pd.Series) else regular.copy()
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col].dtype):
            raise InvalidInput(f"column {col!r} must be numeric to fill gaps, got "
                               f"{frame[col].dtype}", field=str(col), value=str(frame[col].dtype))
    gaps, filled = [], 0
    for col in frame.columns:
        missing = frame[col].isna().to_numpy()
        short = np.zeros_like(missing)
        for start, stop in _runs(missing):
            interior = start > 0 and stop < len(missing)
            if interior and stop - start <= max_gap:
                short[start:stop] = True
            else:
                gaps.append((col, frame.index[start], frame.index[stop - 1], stop - start))
        if short.any():
            interp = frame[col].interpolate(method=method, limit_area="inside")
            frame.loc[short, col] = interp[short]
            filled += int(short.sum())
    out = frame[frame.columns[0]].rename(regular.name) if isinstance(regular, pd.Series) \
        else frame
    out.index.freq = step
    long_gaps = pd.DataFrame(gaps, columns=["column", "start", "end", "steps"])
    return GapFill(out, long_gaps, filled)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


class OutlierClipper(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Robust outlier handling: values beyond median ± threshold·1.4826·MAD (per column).

    ``action``: ``"clip"`` to the bounds, ``"nan"`` to blank them (then fill gaps), or
    ``"flag"`` to return a boolean frame marking them.
    """

    def __init__(self, threshold: float = 5.0,
                 action: Literal["clip", "nan", "flag"] = "clip") -> None:
        self.threshold = threshold
        self.action = action

    def fit(self, X: Frame, y: object = None) -> OutlierClipper:
        if self.threshold <= 0:
            raise InvalidInput(f"threshold must be > 0, got {self.threshold}",
                               field="threshold", row=None, value=self.threshold)
        if self.action not in ("clip", "nan", "flag"):
            raise InvalidInput(f"action must be clip, nan or flag, got {self.action!r}",
                               field="action", row=None, value=self.action)
        frame = _as_numeric_frame(X)
        median = frame.median()
        mad = (frame - median).abs().median() * MAD_TO_SIGMA
        # A constant column has MAD 0: fall back to the mean absolute deviation, then to 0 width.
        mad = mad.where(mad > 0, (frame - median).abs().mean() * np.sqrt(np.pi / 2)).fillna(0.0)
        self.lower_ = median - self.threshold * mad
        self.upper_ = median + self.threshold * mad
        self.columns_ = list(frame.columns)
        return self

    def transform(self, X: Frame) -> Frame:
        check_fitted(self, "lower_")
        frame = _as_numeric_frame(X, self.columns_)
        outside = frame.lt(self.lower_) | frame.gt(self.upper_)
        if self.action == "flag":
            out = outside
        elif self.action == "nan":
            out = frame.mask(outside)
        else:
            out = frame.clip(self.lower_, self.upper_, axis=1)
        return out[out.columns[0]].rename(X.name) if isinstance(X, pd.Series) else out


class Scaler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Per-column scaling: ``standard`` (mean/std), ``minmax`` ([0, 1]) or ``robust`` (median/IQR).

    A constant column gets scale 1 so it maps to 0 instead of dividing by zero.
    """

    def __init__(self, method: Literal["standard", "minmax", "robust"] = "standard") -> None:
        self.method = method

    def fit(self, X: Frame, y: object = None) -> Scaler:
        frame = _as_numeric_frame(X)
        if self.method == "standard":
            center, scale = frame.mean(), frame.std(ddof=0)
        elif self.method == "minmax":
            center, scale = frame.min(), frame.max() - frame.min()
        elif self.method == "robust":
            center = frame.median()
            scale = frame.quantile(0.75) - frame.quantile(0.25)
        else:
            raise InvalidInput(f"method must be standard, minmax or robust, got {self.method!r}",
                               field="method", row=None, value=self.method)
        if center.isna().any():
            col = center.index[center.isna()][0]
            raise InvalidInput(f"column {col!r} has no finite values to fit", field=str(col),
                               row=None, value=None)
        self.center_ = center
        self.scale_ = scale.where(scale > 0, 1.0).fillna(1.0)
        self.columns_ = list(frame.columns)
        return self

    def transform(self, X: Frame) -> Frame:
        self._check_fitted()
        out = (_as_numeric_frame(X, self.columns_) - self.center_) / self.scale_
        return out[out.columns[0]].rename(X.name) if isinstance(X, pd.Series) else out

    def inverse_transform(self, X: Frame) -> Frame:
        self._check_fitted()
        out = _as_numeric_frame(X, self.columns_) * self.scale_ + self.center_
        return out[out.columns[0]].rename(X.name) if isinstance(X, pd.Series) else out

    def _check_fitted(self) -> None:
        check_fitted(self, "center_")


def _check_frame(data: Frame) -> None:
    if not isinstance(data, pd.Series | pd.DataFrame):
        raise InvalidInput(f"expected a pandas Series or DataFrame, got {type(data).__name__}",
                           field="data", row=None, value=type(data).__name__)
    validate_index(data.index)
    if len(data) == 0:
        raise InvalidInput("data is empty", field="data", row=None, value=0)


def _as_numeric_frame(X: Frame, columns: list[str] | None = None) -> pd.DataFrame:
    """``X`` as a float DataFrame; a Series becomes one column so the fitted stats line up."""
    if isinstance(X, pd.Series):
        frame = X.to_frame(name=columns[0] if columns else (X.name if X.name is not None else 0))
    elif isinstance(X, pd.DataFrame):
        frame = X
    else:
        raise InvalidInput(f"expected a pandas Series or DataFrame, got {type(X).__name__}",
                           field="X", row=None, value=type(X).__name__)
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InvalidInput(f"missing column {missing[0]!r}", field=str(missing[0]),
                               row=None, value=None)
        frame = frame[columns]
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col].dtype):
            row = frame.index[0] if len(frame) else None
            raise InvalidInput(f"column {col!r} must be numeric, got {frame[col].dtype}",
                               field=str(col), row=row, value=str(frame[col].dtype))
    values = frame.to_numpy(dtype=float)
    if np.isinf(values).any():
        r, c = map(int, np.argwhere(np.isinf(values))[0])
        raise InvalidInput(f"column {frame.columns[c]!r} has an infinite value at row {r}",
                           field=str(frame.columns[c]), row=frame.index[r], value=values[r, c])
    return frame.astype(float)

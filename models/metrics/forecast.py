"""Point and interval forecast errors: MAE, RMSE, MAPE, sMAPE, MASE, R², direction, coverage.

Every function takes array-likes of equal length and returns a float; percentages are returned
as fractions (0.01 is 1 %). Bad input raises :class:`models.errors.InvalidInput`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from models.errors import InvalidInput


def _as_array(values: ArrayLike, name: str) -> np.ndarray:
    """A finite 1-D float array; names the first bad row otherwise."""
    arr = np.asarray(values, dtype="float64").reshape(-1)
    if arr.size == 0:
        raise InvalidInput(f"{name} is empty", field=name, value=0)
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidInput(f"{name} has a non-finite value at row {row}: {arr[row]!r}",
                           field=name, row=row, value=arr[row])
    return arr


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = _as_array(y_true, "y_true")
    pred = _as_array(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise InvalidInput(f"y_true has {true.size} values but y_pred has {pred.size}",
                           field="y_pred", value=pred.size)
    return true, pred


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(true - pred)))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error."""
    true, pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((true - pred) ** 2)))


def mape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute percentage error (a fraction); undefined when an actual is zero."""
    true, pred = _pair(y_true, y_pred)
    zero = true == 0
    if zero.any():
        row = int(np.argmax(zero))
        raise InvalidInput(f"MAPE is undefined: y_true is 0 at row {row}; use smape or mase",
                           field="y_true", row=row, value=0.0)
    return float(np.mean(np.abs((true - pred) / true)))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE in [0, 2]: mean of 2|e| / (|y| + |ŷ|), with 0/0 counted as 0."""
    true, pred = _pair(y_true, y_pred)
    denom = np.abs(true) + np.abs(pred)
    ratio = np.divide(2 * np.abs(true - pred), denom, out=np.zeros_like(denom),
                      where=denom > 0)
    return float(np.mean(ratio))


def naive_scale(y_train: ArrayLike, season: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast at lag ``season`` (the MASE denominator)."""
    train = _as_array(y_train, "y_train")
    if isinstance(season, bool) or not isinstance(season, int | np.integer) or season < 1:
        raise InvalidInput(f"season must be a positive integer, got {season!r}",
                           field="season", value=season)
    if train.size <= season:
        raise InvalidInput(f"y_train has {train.size} values; MASE with season {season} needs "
                           f"more than {season}", field="y_train", value=train.size)
    scale = float(np.mean(np.abs(train[season:] - train[:-season])))
    if scale == 0:
        raise InvalidInput("MASE is undefined: the in-sample naive error of y_train is 0",
                           field="y_train", value=0.0)
    return scale


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error: MAE over the in-sample lag-``season`` naive MAE."""
    return mae(y_true, y_pred) / naive_scale(y_train, season)


def r2(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Coefficient of determination; 1 is perfect, 0 is the mean of y_true."""
    true, pred = _pair(y_true, y_pred)
    total = float(np.sum((true - true.mean()) ** 2))
    if total == 0:
        raise InvalidInput("R² is undefined: y_true is constant", field="y_true",
                           value=float(true[0]))
    return 1.0 - float(np.sum((true - pred) ** 2)) / total


def directional_accuracy(y_true: ArrayLike, y_pred: ArrayLike,
                         last_value: float | None = None) -> float:
    """Share of steps where the forecast moves in the same direction as the actual.

    Directions are step-to-step changes; with ``last_value`` (the last observed value) the first
    step counts too. Zero changes count as their own direction.
    """
    true, pred = _pair(y_true, y_pred)
    if last_value is not None:
        start = _as_array([last_value], "last_value")
        true = np.concatenate([start, true])
        pred = np.concatenate([start, pred])
    if true.size < 2:
        raise InvalidInput("directional accuracy needs at least two values (or last_value)",
                           field="y_true", value=true.size)
    return float(np.mean(np.sign(np.diff(true)) == np.sign(np.diff(pred))))


def interval_coverage(y_true: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actuals inside the closed interval [lower, upper]."""
    true = _as_array(y_true, "y_true")
    lo = _as_array(lower, "lower")
    hi = _as_array(upper, "upper")
    if not true.shape == lo.shape == hi.shape:
        raise InvalidInput(f"y_true, lower and upper lengths differ: {true.size}, {lo.size}, "
                           f"{hi.size}", field="lower", value=lo.size)
    crossed = lo > hi
    if crossed.any():
        row = int(np.argmax(crossed))
        raise InvalidInput(f"lower > upper at row {row}: {lo[row]} > {hi[row]}",
                           field="lower", row=row, value=lo[row])
    return float(np.mean((true >= lo) & (true <= hi)))


def point_metrics(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike | None = None,
                  season: int = 1) -> dict[str, float]:
    """MAE, RMSE, sMAPE, R² and (when defined) MAPE and MASE, as one dict."""
    true, pred = _pair(y_true, y_pred)
    out = {"mae": mae(true, pred), "rmse": rmse(true, pred), "smape": smape(true, pred)}
    out["mape"] = mape(true, pred) if np.all(true != 0) else float("nan")
    out["r2"] = r2(true, pred) if true.size > 1 and np.ptp(true) > 0 else float("nan")
    if y_train is not None:
        out["mase"] = mase(true, pred, y_train, season)
    return out

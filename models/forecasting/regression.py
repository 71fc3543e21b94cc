"""Regression of a demand series on exogenous inputs (e.g. heating/cooling degrees).

The MSTL models take weather as a regression fitted before the decomposition: least squares of
the (log) series on ``X`` together with nuisance terms for what MSTL models itself (intercept,
linear trend, Fourier terms of the daily and weekly seasons). Fitting the weather effect after
the decomposition would miss most of it, because the seasonal components absorb the average hot
afternoon. The series less the effect is decomposed and smoothed as usual; the forecast adds the
coefficients times ``X_future`` (regression with MSTL + ETS / AR errors, in two steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.forecasting.base import as_frame, exog_values

# Harmonics of the nuisance seasonal terms: enough for a smooth daily and weekly profile; fixed
# from the shape of demand curves, not tuned on a benchmark.
DAILY_HARMONICS = 8
WEEKLY_HARMONICS = 4


def nuisance_terms(n: int, periods: Sequence[int]) -> np.ndarray:
    """Intercept, linear trend and Fourier terms of each period (shortest period: daily)."""
    t = np.arange(n, dtype="float64")
    cols = [np.ones(n), t / max(n, 1)]
    for j, period in enumerate(sorted(periods)):
        harmonics = min(DAILY_HARMONICS if j == 0 else WEEKLY_HARMONICS, period // 2)
        for k in range(1, harmonics + 1):
            angle = 2 * np.pi * k * t / period
            cols += [np.sin(angle), np.cos(angle)]
    return np.column_stack(cols)


@dataclass(frozen=True)
class ExogRegression:
    """Coefficients of the exogenous columns, and their training means (effects are centred)."""

    columns: tuple[str, ...]
    mean: np.ndarray
    coef: np.ndarray

    @classmethod
    def fit(cls, target: np.ndarray, X: object, index: pd.DatetimeIndex,
            periods: Sequence[int] = ()) -> ExogRegression:
        """Least squares of ``target`` (one value per timestamp of ``index``) on ``X``'s
        columns and the nuisance terms of ``periods``; keeps the coefficients of ``X``."""
        columns = tuple(str(c) for c in as_frame(X, "X").columns)
        if not columns:
            raise InvalidInput("X has no columns", field="X", value=0)
        x = exog_values(X, index, list(columns), "X").to_numpy()
        mean = x.mean(axis=0)
        design = np.hstack([x - mean, nuisance_terms(len(target), periods)])
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        return cls(columns=columns, mean=mean, coef=np.asarray(coef[:len(columns)]))

    def effect(self, X: object, index: pd.DatetimeIndex, name: str = "X") -> np.ndarray:
        """The fitted effect (centred on the training mean) at each timestamp of ``index``."""
        x = exog_values(X, index, list(self.columns), name).to_numpy()
        return np.asarray((x - self.mean) @ self.coef, dtype="float64")


def future_effect(reg: ExogRegression | None, X_future: object | None,
                  index: pd.DatetimeIndex) -> np.ndarray:
    """The regression's effect over the future ``index`` (zeros without a regression)."""
    if reg is None:
        return np.zeros(len(index))
    if X_future is None:
        raise InvalidInput(f"model was fitted with exogenous {list(reg.columns)}; X_future is "
                           "required", field="X_future", value=None)
    return reg.effect(X_future, index, "X_future")

"""Weighted ensembles of point models, weighted by their backtest errors."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput
from models.forecasting.base import PointModel, check_fitted, check_horizon
from models.forecasting.registry import make_model


def inverse_error_weights(errors: Mapping[str, np.ndarray], top: int | None = None,
                          power: float = 2.0) -> dict[str, float]:
    """Weights ∝ 1 / MAE**power of the ``top`` members with the lowest backtest MAE."""
    if not errors:
        raise InvalidInput("no members to weight", field="errors", value=0)
    mae = {name: float(np.mean(np.abs(e))) for name, e in errors.items()}
    ranked = sorted(mae, key=mae.__getitem__)[: top or len(mae)]
    raw = {name: 1.0 / max(mae[name], 1e-12) ** power for name in ranked}
    total = sum(raw.values())
    return {name: w / total for name, w in raw.items()}


def combine(values: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """The weighted sum of the members' arrays."""
    arrays = [weights[name] * np.asarray(values[name], dtype="float64") for name in weights]
    if not arrays:
        raise InvalidInput("no ensemble members with weights", field="weights", value=weights)
    return np.sum(arrays, axis=0)


class WeightedEnsemble(BaseEstimator):
    """Fits each member and forecasts the weighted mean of their forecasts."""

    def __init__(self, weights: Mapping[str, float] | None = None,
                 params: Mapping[str, Mapping[str, object]] | None = None) -> None:
        self.weights = weights
        self.params = params

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> WeightedEnsemble:
        """Fit every member with a positive weight on ``y``."""
        weights = dict(self.weights or {})
        if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise InvalidInput(f"ensemble weights must be non-negative with a positive sum, "
                               f"got {weights!r}", field="weights", value=weights)
        total = sum(weights.values())
        params = self.params or {}
        self.weights_ = {n: w / total for n, w in weights.items() if w > 0}
        self.members_ = {n: make_model(n, **dict(params.get(n, {}))).fit(y, X)
                         for n in self.weights_}
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """The weighted mean of the members' forecasts."""
        check_fitted(self, "members_")
        horizon = check_horizon(horizon)
        members: dict[str, PointModel] = self.members_
        preds = {n: m.predict(horizon, X_future) for n, m in members.items()}
        return combine(preds, self.weights_)

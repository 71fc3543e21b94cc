"""Backtest-error weights and the weighted ensemble model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting.ensemble import WeightedEnsemble, combine, inverse_error_weights
from models.forecasting.registry import make_model


def test_inverse_error_weights_favour_the_smaller_error() -> None:
    errors = {"a": np.full((2, 3), 1.0), "b": np.full((2, 3), -2.0), "c": np.full((2, 3), 4.0)}
    weights = inverse_error_weights(errors, top=2)
    assert set(weights) == {"a", "b"}
    assert weights["a"] == pytest.approx(0.8) and weights["b"] == pytest.approx(0.2)
    np.testing.assert_allclose(combine(errors, weights), np.full((2, 3), 0.8 - 0.4))
    with pytest.raises(InvalidInput):
        inverse_error_weights({})


def test_weighted_ensemble_is_the_weighted_mean_of_members() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 9, freq="1h")
    y = pd.Series(10 + np.sin(2 * np.pi * index.hour / 24) + 0.01 * np.arange(len(index)),
                  index=index)
    ens = WeightedEnsemble(weights={"seasonal_naive": 3.0, "ets": 1.0}).fit(y)
    naive = make_model("seasonal_naive").fit(y).predict(12)
    ets = make_model("ets").fit(y).predict(12)
    np.testing.assert_allclose(ens.predict(12), 0.75 * naive + 0.25 * ets)
    with pytest.raises(NotFittedError):
        WeightedEnsemble(weights={"ets": 1.0}).predict(3)
    with pytest.raises(InvalidInput, match="weights"):
        WeightedEnsemble(weights={"ets": -1.0}).fit(y)

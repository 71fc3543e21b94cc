"""Backtest-error weights and the weighted ensemble model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting.catalog import make_model
from models.forecasting.ensemble import (
    WeightedEnsemble,
    combine,
    forward_errors,
    held_out_errors,
    inverse_error_weights,
    stacked_weights,
)


def test_inverse_error_weights_favour_the_smaller_error() -> None:
    errors = {"a": np.full((2, 3), 1.0), "b": np.full((2, 3), -2.0), "c": np.full((2, 3), 4.0)}
    weights = inverse_error_weights(errors, top=2)
    assert set(weights) == {"a", "b"}
    assert weights["a"] == pytest.approx(0.8) and weights["b"] == pytest.approx(0.2)
    np.testing.assert_allclose(combine(errors, weights), np.full((2, 3), 0.8 - 0.4))
    with pytest.raises(InvalidInput):
        inverse_error_weights({})


def test_stacked_weights_combine_offsetting_members() -> None:
    rng = np.random.default_rng(0)
    actuals = 100 + rng.normal(0, 5, (6, 8))
    forecasts = {"high": actuals + 4.0, "low": actuals - 4.0,
                 "noise": actuals + rng.normal(0, 20, (6, 8))}
    weights = stacked_weights(forecasts, actuals)
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["high"] == pytest.approx(0.5, abs=0.02)
    assert weights["low"] == pytest.approx(0.5, abs=0.02)
    assert weights["noise"] == pytest.approx(0.0, abs=0.02)
    # a member that is best alone keeps (almost) all the weight
    alone = stacked_weights({"good": actuals + 0.1, "bad": actuals + 9.0}, actuals)
    assert alone["good"] > 0.98
    with pytest.raises(InvalidInput, match="members"):
        stacked_weights({}, actuals)
    with pytest.raises(InvalidInput, match="shaped like"):
        stacked_weights({"a": actuals[:3]}, actuals)
    with pytest.raises(InvalidInput, match="finite"):
        stacked_weights({"a": np.full_like(actuals, np.nan)}, actuals)


def test_held_out_errors_refit_without_each_origin() -> None:
    actuals = np.arange(12.0).reshape(4, 3)
    forecasts = {"a": actuals + 1.0, "b": actuals - 1.0}
    errors = held_out_errors(forecasts, actuals)
    assert errors.shape == (4, 3)
    np.testing.assert_allclose(errors, 0.0, atol=1e-6)
    # a miss at origin 0 is scored with the weights the other origins chose (0.5 each)
    forecasts["a"][0] += 10.0
    np.testing.assert_allclose(held_out_errors(forecasts, actuals)[0], -5.0, atol=1e-3)
    single = held_out_errors({"a": actuals[:1] + 1.0}, actuals[:1])
    np.testing.assert_allclose(single, -1.0)


def test_forward_errors_fit_weights_on_the_earlier_windows_only() -> None:
    actuals = np.arange(18.0).reshape(6, 3)
    # "a" is right for the first three windows, "b" for the last three: a regime change
    forecasts = {"a": actuals + np.r_[0, 0, 0, 4, 4, 4][:, None],
                 "b": actuals + np.r_[4, 4, 4, 0, 0, 0][:, None]}
    errors = forward_errors(forecasts, actuals, warmup=2)
    assert errors.shape == (4, 3)
    # window 2 is scored with the weights of windows 0-1 ("a", right); window 3 with those of
    # windows 0-2, which trust "a" and miss the change by 4: no later window is fitted
    np.testing.assert_allclose(errors[0], 0.0, atol=1e-3)
    np.testing.assert_allclose(errors[1], -4.0, atol=1e-3)
    assert forward_errors(forecasts, actuals, warmup=10).shape == (1, 3)
    single = forward_errors({"a": actuals[:1] + 1.0}, actuals[:1])
    np.testing.assert_allclose(single, -1.0)


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


def test_stacked_weights_favour_recent_origins() -> None:
    actuals = np.full((10, 4), 100.0)
    # "old" was right over the first origins, "new" over the last ones
    old = np.where(np.arange(10)[:, None] < 6, 100.0, 110.0) * np.ones((1, 4))
    new = np.where(np.arange(10)[:, None] < 6, 110.0, 100.0) * np.ones((1, 4))
    flat = stacked_weights({"old": old, "new": new}, actuals, half_life=None)
    recent = stacked_weights({"old": old, "new": new}, actuals, half_life=1.0)
    assert flat["old"] > 0.5 > recent["old"]
    with pytest.raises(InvalidInput) as err:
        stacked_weights({"old": old}, actuals, half_life=0.0)
    assert err.value.field == "half_life"
    with pytest.raises(InvalidInput) as err:
        stacked_weights({"old": old}, actuals, within=0.5)
    assert err.value.field == "within"

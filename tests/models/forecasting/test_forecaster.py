"""The Forecaster facade: frame shape and index, ordered intervals, auto, saving, bad input."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput, NotFittedError
from models.forecasting import Forecaster
from models.forecasting.catalog import BASELINES, make_model
from models.forecasting.forecaster import DEFAULT_CANDIDATES


def demand(days: int = 14, freq: str = "1h", seed: int = 3) -> pd.Series:
    index = pd.date_range("2024-03-04", periods=days * pd.Timedelta("1D") // pd.Timedelta(freq),
                          freq=freq, name="ts")
    rng = np.random.default_rng(seed)
    hours = index.hour + index.minute / 60
    noise = np.convolve(rng.normal(0, 1.5, len(index)), np.ones(3) / 3, mode="same")
    return pd.Series(100 + 25 * np.sin(2 * np.pi * hours / 24) + 6 * (index.dayofweek < 5)
                     + noise, index=index)


@pytest.fixture(scope="module")
def fitted_auto() -> Forecaster:
    return Forecaster(model="auto", n_windows=4).fit(demand())


def test_frame_index_columns_and_ordered_intervals(fitted_auto: Forecaster) -> None:
    frame = fitted_auto.predict(30)
    y = demand()
    assert list(frame.columns) == ["mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    expected = pd.date_range(y.index[-1] + pd.Timedelta("1h"), periods=30, freq="1h")
    pd.testing.assert_index_equal(frame.index, expected, check_names=False)
    assert frame.index.name == "ts"
    assert (frame["lo_95"] <= frame["lo_80"]).all()
    assert (frame["lo_80"] < frame["mean"]).all() and (frame["mean"] < frame["hi_80"]).all()
    assert (frame["hi_80"] <= frame["hi_95"]).all()
    # past the calibrated day the 95 % band keeps widening
    width = frame["hi_95"] - frame["lo_95"]
    assert width.iloc[-1] > width.iloc[23]


def test_auto_stacks_the_candidates_by_backtest(fitted_auto: Forecaster) -> None:
    assert set(fitted_auto.backtest_) == set(DEFAULT_CANDIDATES) | set(BASELINES)
    assert set(fitted_auto.weights_) <= set(fitted_auto.backtest_)
    assert all(w > 0 for w in fitted_auto.weights_.values())
    assert sum(fitted_auto.weights_.values()) == pytest.approx(1.0)
    assert fitted_auto.backtest_errors_.shape == (4, 24)
    expected = "ensemble" if len(fitted_auto.weights_) > 1 else next(iter(fitted_auto.weights_))
    assert fitted_auto.selected_ == expected


def test_auto_records_its_choice_and_the_inner_scores(fitted_auto: Forecaster) -> None:
    choice = fitted_auto.choice_
    assert choice["chosen"] == fitted_auto.selected_
    assert set(choice["scores"]) == {"stack", *BASELINES}
    best_baseline = min(choice["scores"][b] for b in BASELINES)
    # the stack is kept only when it beats both baselines on the inner windows
    assert fitted_auto.fallback_ == (not choice["scores"]["stack"] < best_baseline)
    assert Forecaster.metadata(fitted_auto.dumps())["choice"] == choice


def seasonal_random_walk(period: int, days: int = 21, seed: int = 7) -> pd.Series:
    """y[t] = y[t - period] + noise: the seasonal naive forecast is optimal by construction."""
    rng = np.random.default_rng(seed)
    n = days * 24
    values = 100 + rng.normal(0, 5, period)
    steps = rng.normal(0, 1, n)
    out = np.empty(n)
    out[:period] = values
    for t in range(period, n):
        out[t] = out[t - period] + steps[t]
    return pd.Series(out, index=pd.date_range("2024-01-01", periods=n, freq="1h", name="ts"))


@pytest.mark.parametrize("held_out", ["leave_one_out", "forward"])
@pytest.mark.parametrize(("period", "baseline"), [(24, "naive_day"), (168, "naive_week")])
def test_auto_chooses_the_naive_forecast_where_it_is_best_by_construction(
        period: int, baseline: str, held_out: str) -> None:
    y = seasonal_random_walk(period)
    fc = Forecaster(model="auto", n_windows=6, held_out=held_out).fit(y)
    assert fc.selected_ == baseline
    assert fc.weights_ == {baseline: 1.0}
    assert fc.choice_["chosen"] == baseline
    assert fc.choice_["scores"][baseline] <= fc.choice_["scores"]["stack"]
    expected = make_model(baseline).fit(y).predict(24)
    np.testing.assert_allclose(fc.predict(24)["mean"].to_numpy(), expected)


def test_auto_drops_weak_candidates_from_the_stack() -> None:
    y = demand(days=12)
    fc = Forecaster(model="auto", n_windows=3, candidates=["ets", "day_analog"],
                    params={"day_analog": {"half_life": 1}}).fit(y)
    assert set(fc.backtest_) == {"ets", "day_analog", *BASELINES}
    assert fc.selected_ in ("ets", "day_analog", "ensemble", *BASELINES)
    assert fc.predict(24).shape == (24, 5)


def test_dumps_loads_round_trip(fitted_auto: Forecaster) -> None:
    data = fitted_auto.dumps()
    meta = Forecaster.metadata(data)
    assert meta["version"] == 1 and meta["model"] == fitted_auto.selected_
    pd.testing.assert_frame_equal(Forecaster.loads(data).predict(10), fitted_auto.predict(10))
    with pytest.raises(InvalidInput, match="not a saved forecaster"):
        Forecaster.loads(b"not a pickle")


def test_no_leakage_from_values_after_the_fit() -> None:
    y = demand(days=16)
    altered = y.copy()
    altered.iloc[-48:] *= 3
    first = Forecaster(model="ets", n_windows=3).fit(y.iloc[:-48]).predict(24)
    second = Forecaster(model="ets", n_windows=3).fit(altered.iloc[:-48]).predict(24)
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("model", ["seasonal_naive", "mstl_ar", "ensemble"])
def test_models_half_hourly_with_levels(model: str) -> None:
    y = demand(days=10, freq="30min")
    fc = Forecaster(model=model, n_windows=3, level=(50, 90),
                    candidates=["seasonal_naive", "ets"]).fit(y)
    frame = fc.predict(48, level=(90,))
    assert list(frame.columns) == ["mean", "lo_90", "hi_90"]
    assert frame.index.freq == "30min"
    with pytest.raises(InvalidInput, match="not calibrated"):
        fc.predict(5, level=(95,))


def test_unfitted_raises() -> None:
    with pytest.raises(NotFittedError):
        Forecaster().predict(3)
    with pytest.raises(NotFittedError):
        Forecaster().dumps()


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "holt"}, "unknown model"),
    pytest.param({"model": "prophet"}, "prophet", marks=pytest.mark.skipif(
        importlib.util.find_spec("prophet") is not None, reason="prophet installed")),
    ({"level": (95, 120)}, "percentage"),
    ({"n_windows": 0}, "n_windows"),
    ({"model": "auto", "candidates": ["nope"]}, "unknown candidate"),
    ({"held_out": "k_fold"}, "held_out"),
])
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Forecaster(**kwargs).fit(demand(days=5))  # type: ignore[arg-type]


def test_nan_and_short_input() -> None:
    y = demand(days=5)
    y.iloc[7] = np.inf
    with pytest.raises(InvalidInput, match="row 7"):
        Forecaster(model="ets").fit(y)
    with pytest.raises(InvalidInput, match="too short"):
        Forecaster(model="ets").fit(demand(days=2))

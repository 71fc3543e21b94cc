"""GBMForecaster: direct multi-horizon, exogenous inputs, global fitting, pickling, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from models.errors import InvalidInput, NotFittedError
from models.forecasting.gbm import GBMForecaster, _ref

FAST = {"max_iter": 40, "learning_rate": 0.2, "country": None}


def _series(n: int = 24 * 28, freq: str = "h", level: float = 10.0, seed: int = 0) -> pd.Series:
    idx = pd.date_range("2024-01-01", periods=n, freq=freq)
    per_day = 24 if freq == "h" else 48
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    shape = 1 + 0.4 * np.sin(2 * np.pi * t / per_day) + 0.2 * (idx.dayofweek >= 5)
    return pd.Series(level * shape * (1 + rng.normal(0, 0.03, n)), idx, name="load")


@pytest.mark.parametrize("freq", ["h", "30min"])
def test_level_target_beats_seasonal_naive(freq: str) -> None:
    y = _series(freq=freq, n=24 * 21 * (1 if freq == "h" else 2))
    day = 24 if freq == "h" else 48
    train, test = y.iloc[:-day], y.iloc[-day:]
    model = GBMForecaster(**FAST, target="level").fit(train)
    assert model.horizon_ == day
    pred = model.predict(day)
    assert pred.shape == (day,) and np.isfinite(pred).all()
    naive = train.iloc[-7 * day:-6 * day].to_numpy()  # same weekday last week
    assert np.abs(pred - test).mean() < np.abs(naive - test.to_numpy()).mean()


def test_both_targets_follow_a_trend_beyond_the_training_range() -> None:
    """The causal trailing scale (and the delta target) let trees forecast past the max seen."""
    y = _series(24 * 21) + np.linspace(0, 15, 24 * 21)
    train, test = y.iloc[:-24], y.iloc[-24:].to_numpy()
    week_naive = np.abs(train.iloc[-168:-144].to_numpy() - test).mean()
    for target in ("delta", "level"):
        pred = GBMForecaster(**FAST, target=target).fit(train).predict(24)
        assert np.abs(pred - test).mean() < 0.5 * week_naive
        assert pred.mean() > train.iloc[-24 * 7:].mean()     # above last week's level


def test_long_horizon_is_block_recursive_and_level_target_works() -> None:
    y = _series()
    for target in ("delta", "level"):
        pred = GBMForecaster(**FAST, max_horizon=12, target=target).fit(y).predict(60)
        assert pred.shape == (60,) and np.isfinite(pred).all()
        assert abs(pred.mean() - y.mean()) < 0.2 * y.mean()


def test_reference_values_are_known_at_the_origin() -> None:
    t = np.arange(500, 600)
    for season in (24, 168):
        for h in (1, 23, 24, 25, 100, 168, 169):
            values = np.arange(1000.0)
            src = _ref(values, t, np.full(len(t), h), season)
            assert (src <= t - h).all() and ((t - src) % season == 0).all()


def test_exogenous_inputs_are_used_and_required() -> None:
    y = _series(24 * 14)
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"temp": rng.normal(0, 1, len(y) + 24)},
                     index=pd.date_range(y.index[0], periods=len(y) + 24, freq="h"))
    y_x = y + 5 * X["temp"].iloc[:len(y)].to_numpy()
    truth = (_series(24 * 15).iloc[-24:] + 5 * X["temp"].iloc[-24:].to_numpy()).to_numpy()
    with_x = GBMForecaster(**FAST).fit(y_x, X.iloc[:len(y)])
    without = GBMForecaster(**FAST).fit(y_x)
    err_x = np.abs(with_x.predict(24, X.iloc[len(y):]) - truth).mean()
    assert err_x < 0.7 * np.abs(without.predict(24) - truth).mean()
    with pytest.raises(InvalidInput, match="X_future is required"):
        with_x.predict(24)
    with pytest.raises(InvalidInput, match="no row for"):
        with_x.predict(30, X.iloc[len(y):])
    with pytest.raises(InvalidInput, match="missing column 'temp'"):
        with_x.predict(24, X.rename(columns={"temp": "t"}))
    bad = X.copy()
    bad.iloc[len(y) + 2, 0] = np.inf
    with pytest.raises(InvalidInput, match="infinite") as err:
        with_x.predict(24, bad.iloc[len(y):])
    assert err.value.row == X.index[len(y) + 2]


def test_global_model_across_meters_of_different_size() -> None:
    meters = {f"m{i}": _series(24 * 14, level=lvl, seed=i) for i, lvl in enumerate((1, 10, 100))}
    model = GBMForecaster(**FAST).fit_global(meters)
    out = model.predict_global(24)
    assert list(out.columns) == ["m0", "m1", "m2"] and len(out) == 24
    assert out.index[0] == meters["m0"].index[-1] + pd.Timedelta("1h")
    for key, lvl in (("m0", 1), ("m1", 10), ("m2", 100)):
        assert abs(out[key].mean() / lvl - 1) < 0.2
    new_meter = _series(24 * 7, level=50, seed=9)          # cold start: never seen in fit
    assert abs(model.predict(24, history=new_meter).mean() / 50 - 1) < 0.2
    with pytest.raises(InvalidInput, match="several series"):
        model.predict(24)
    long = pd.concat(meters, names=["meter_id", "ts"])     # (meter_id, ts) MultiIndex
    from_long = GBMForecaster(**FAST).fit_global(long).predict_global(24)
    np.testing.assert_allclose(from_long.to_numpy(), out.to_numpy())


def test_pickle_and_unfitted() -> None:
    with pytest.raises(NotFittedError):
        GBMForecaster().predict(5)
    model = GBMForecaster(**FAST).fit(_series(24 * 10))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(30), model.predict(30))
    fresh = clone(model)                                   # sklearn conventions
    assert fresh.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(3)


def test_bad_input() -> None:
    y = _series(24 * 10)
    bad = y.copy()
    bad.iloc[7] = np.nan
    with pytest.raises(InvalidInput, match="non-finite") as err:
        GBMForecaster(**FAST).fit(bad)
    assert err.value.row == y.index[7]
    with pytest.raises(InvalidInput, match="at least"):
        GBMForecaster(**FAST).fit(y.iloc[:30])
    with pytest.raises(InvalidInput, match="frequency"):
        GBMForecaster(**FAST).fit(y.iloc[[0, 1, 2, 5, 6]])
    with pytest.raises(InvalidInput, match="scale_window"):
        GBMForecaster(**FAST, scale_window=0).fit(y)
    with pytest.raises(InvalidInput, match="hyperparameter"):
        GBMForecaster(**{**FAST, "learning_rate": -1.0}).fit(y)
    with pytest.raises(InvalidInput, match="target"):
        GBMForecaster(**FAST, target="ratio").fit(y)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="one frequency"):
        GBMForecaster(**FAST).fit_global({"a": y, "b": _series(48 * 10, "30min")})
    with pytest.raises(InvalidInput, match="MultiIndex"):
        GBMForecaster(**FAST).fit_global(y)
    model = GBMForecaster(**FAST).fit(y)
    with pytest.raises(InvalidInput, match="horizon"):
        model.predict(0)
    with pytest.raises(InvalidInput, match="differs"):
        model.predict(3, history=_series(48 * 3, "30min"))


def test_training_rows_use_only_data_up_to_their_origin() -> None:
    """Perturb y after index c: every training row whose origin is <= c keeps its features."""
    y = _series(24 * 12)
    model = GBMForecaster(**FAST, max_horizon=30)
    model._day, model._week = 24, 168
    model.lags_, model.windows_, model.diffs_ = model._steps(24, 168)
    c = 200
    y2 = y.copy()
    y2.iloc[c + 1:] += np.random.default_rng(1).normal(50, 20, len(y) - c - 1)
    rows, _ = model._training_rows(y, None, 30)
    rows2, _ = model._training_rows(y2, None, 30)
    origins = np.arange(max(model.lags_) - 1, len(y) - 1)
    first = 0
    checked = 0
    for h in range(1, 31):
        o = origins[origins + h < len(y)]
        block, block2 = rows[first:first + len(o)], rows2[first:first + len(o)]
        keep = o <= c
        np.testing.assert_array_equal(block[keep], block2[keep])
        assert not np.array_equal(block[~keep], block2[~keep])   # the perturbation is visible
        checked += int(keep.sum())
        first += len(o)
    assert first == len(rows) and checked > 1000

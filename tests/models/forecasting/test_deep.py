"""Keras LSTM and Transformer forecasters on tiny data: fit, predict, exog, pickling, errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from models.errors import InvalidInput, NotFittedError
from models.forecasting.deep import LSTMForecaster, TransformerForecaster

SMALL = {"lookback": 24, "max_horizon": 6, "epochs": 2, "batch_size": 32,
         "validation_fraction": 0.0}


def _hourly(n: int = 240, seed: int = 0) -> pd.Series:
    idx = pd.date_range("2024-03-01", periods=n, freq="h")
    rng = np.random.default_rng(seed)
    day = 10 + 3 * np.sin(2 * np.pi * np.arange(n) / 24)
    return pd.Series(day + rng.normal(0, 0.3, n), idx, name="load")


def test_module_imports_without_tensorflow() -> None:
    code = ("import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "
            "import models.forecasting.deep as d; d.LSTMForecaster(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_unfitted_and_bad_input_raise_before_tensorflow() -> None:
    with pytest.raises(NotFittedError):
        LSTMForecaster().predict(3)
    assert clone(TransformerForecaster(num_heads=2)).get_params()["num_heads"] == 2
    y = _hourly(30)
    with pytest.raises(InvalidInput, match="at least"):
        LSTMForecaster(**SMALL).fit(y.iloc[:20])
    bad = y.copy()
    bad.iloc[5] = np.nan
    with pytest.raises(InvalidInput, match="non-finite") as err:
        LSTMForecaster(**SMALL).fit(bad)
    assert err.value.row == y.index[5]
    with pytest.raises(InvalidInput, match="lookback"):
        LSTMForecaster(lookback=0).fit(y)
    with pytest.raises(InvalidInput, match="anchor=True needs lookback >= 24"):
        LSTMForecaster(lookback=12, max_horizon=6).fit(_hourly(60))
    with pytest.raises(InvalidInput, match="frequency"):
        LSTMForecaster(**SMALL).fit(y.iloc[[0, 1, 3, 4]])


@pytest.mark.deep
@pytest.mark.parametrize("cls", [LSTMForecaster, TransformerForecaster])
def test_fit_predict_exog_block_recursive_and_pickle(cls: type) -> None:
    pytest.importorskip("tensorflow")
    y = _hourly()
    X = pd.DataFrame({"temp": np.cos(np.arange(len(y) + 15) / 5)},
                     index=pd.date_range(y.index[0], periods=len(y) + 15, freq="h"))
    params = {**SMALL, "units": (16, 8, 4)} if cls is LSTMForecaster else \
        {**SMALL, "d_model": 8, "num_heads": 2, "ff_dim": 16, "num_blocks": 1}
    model = cls(**params).fit(y, X.iloc[:len(y)])
    future = X.iloc[len(y):]
    pred = model.predict(15, future)               # 15 > max_horizon 6: three blocks
    assert pred.shape == (15,) and np.isfinite(pred).all()
    assert abs(pred.mean() - y.mean()) < 3 * y.std()
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict(15, future), pred, rtol=1e-5)
    with pytest.raises(InvalidInput, match="X_future is required"):
        model.predict(6)
    with pytest.raises(InvalidInput, match="no row for"):
        model.predict(8, future.iloc[:6])
    with pytest.raises(InvalidInput, match="missing column 'temp'"):
        model.predict(6, future.rename(columns={"temp": "t"}))


@pytest.mark.deep
def test_default_lstm_is_the_seed_stack() -> None:
    pytest.importorskip("tensorflow")
    network = LSTMForecaster()._build_network(48, 6, 24, 96)
    lstm_units = [layer.units for layer in network.layers if "lstm" in layer.name]
    drops = [layer.rate for layer in network.layers if "dropout" in layer.name]
    assert lstm_units == [128, 64, 32] and drops == [0.2, 0.2, 0.2]
    assert network.output_shape == (None, 24)
    attn = TransformerForecaster()._build_network(48, 6, 24, 96)
    assert any("multi_head_attention" in layer.name for layer in attn.layers)


def test_training_windows_inputs_never_reach_past_their_end() -> None:
    """Perturb y from index p on: input windows that end before p are unchanged."""
    y = _hourly(120)
    model = LSTMForecaster()
    model.mean_, model.std_ = 10.0, 2.0
    p = 70
    y2 = y.copy()
    y2.iloc[p:] += 100.0
    seq, fut, target = model._windows(y, None, 12, 6)
    seq2, fut2, target2 = model._windows(y2, None, 12, 6)
    starts = np.arange(len(seq))
    before = starts + 12 <= p
    np.testing.assert_array_equal(seq[before], seq2[before])
    assert not np.array_equal(seq[~before], seq2[~before])
    np.testing.assert_array_equal(fut, fut2)           # calendar of target steps only
    assert np.array_equal(target[starts + 18 <= p], target2[starts + 18 <= p])

"""Deep point forecasters in Keras: a stacked LSTM and a multi-head-attention encoder.

Both read a window of ``lookback`` past steps (the standardised target, time-of-day and
day-of-week encodings, relative position) and emit ``max_horizon`` steps at once (direct
multi-output); the calendar of the target steps and any exogenous ``X`` at those steps enter
after the sequence encoder. With ``anchor=True`` (default) the network learns the change from
the same time on the last observed day (a seasonal-naive anchor). Longer horizons are forecast
block by block. TensorFlow is imported only inside methods, so this module imports without it
(the ``deep`` extra). Fitted models pickle: the network is stored as weights and rebuilt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput, ModelError
from models.forecasting.base import (
    as_frame,
    check_fitted,
    check_horizon,
    check_positive_int,
    check_series,
    exog_values,
    future_index,
    season_lengths,
)


def _calendar(index: pd.DatetimeIndex) -> np.ndarray:
    """Hour-of-day and day-of-week sin/cos, shape (len(index), 4)."""
    hour = 2 * np.pi * (index.hour + index.minute / 60.0).to_numpy() / 24.0
    dow = 2 * np.pi * index.dayofweek.to_numpy() / 7.0
    return np.column_stack([np.sin(hour), np.cos(hour), np.sin(dow), np.cos(dow)])


class _KerasForecaster(BaseEstimator):  # type: ignore[misc]
    """Shared windowing, scaling, training and pickling; subclasses build the network."""

    def __init__(self, lookback: int | None = None, max_horizon: int | None = None,
                 epochs: int = 30, batch_size: int = 64, learning_rate: float = 1e-3,
                 validation_fraction: float = 0.1, patience: int = 4, stride: int = 1,
                 anchor: bool = True, random_state: int = 0, verbose: int = 0) -> None:
        self.lookback = lookback
        self.max_horizon = max_horizon
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.stride = stride
        self.anchor = anchor
        self.random_state = random_state
        self.verbose = verbose

    def _build_network(self, lookback: int, channels: int, horizon: int,
                       future_features: int) -> Any:
        raise NotImplementedError

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> _KerasForecaster:
        """Train on windows of ``y``; ``X`` (optional) holds exogenous values on y's timestamps."""
        y = check_series(y, min_length=2)
        day, _ = season_lengths(y.index.freq)
        lookback = self.lookback if self.lookback is not None else 2 * day
        horizon = self.max_horizon if self.max_horizon is not None else day
        for name, value in (("lookback", lookback), ("max_horizon", horizon),
                            ("epochs", self.epochs), ("stride", self.stride)):
            check_positive_int(value, name)
        y = check_series(y, min_length=lookback + horizon + 8)
        self.ref_pos_ = _anchor_positions(lookback, horizon, day) if self.anchor else None
        self.exog_columns_ = [] if X is None else [str(c) for c in as_frame(X, "X").columns]
        exog = None if X is None else exog_values(X, y.index, self.exog_columns_, "X")
        self.mean_ = float(y.mean())
        self.std_ = float(y.std(ddof=0)) or 1.0
        seq, fut, target = self._windows(y, exog, lookback, horizon)
        if len(target) < 4:
            raise InvalidInput(f"only {len(target)} training windows; give a longer series or "
                               "a smaller lookback/max_horizon", field="y", value=len(y))
        from tensorflow import keras  # the deep extra: imported only when a network is built

        keras.utils.set_random_seed(self.random_state)
        self.shapes_ = (lookback, seq.shape[2], horizon, fut.shape[1])
        network = self._build_network(*self.shapes_)
        network.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse",
                        jit_compile=False)
        n_val = int(len(target) * self.validation_fraction)
        callbacks = []
        if n_val >= 1:
            callbacks.append(keras.callbacks.EarlyStopping(
                patience=self.patience, restore_best_weights=True))
        split = len(target) - n_val
        validation = ([seq[split:], fut[split:]], target[split:]) if n_val >= 1 else None
        history = network.fit([seq[:split], fut[:split]], target[:split],
                              validation_data=validation, epochs=self.epochs,
                              batch_size=self.batch_size, shuffle=True, callbacks=callbacks,
                              verbose=self.verbose)
        loss = history.history["loss"][-1]
        if not np.isfinite(loss):
            raise ModelError(f"{type(self).__name__} diverged: training loss {loss}")
        self.network_ = network
        self.history_ = y.iloc[-lookback:]
        self.epochs_run_ = len(history.history["loss"])
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """Forecast ``horizon`` steps after the fitted series."""
        check_fitted(self, "network_")
        horizon = check_horizon(horizon)
        y = self.history_
        index = future_index(y.index, horizon)
        exog = None
        if self.exog_columns_:
            if X_future is None:
                raise InvalidInput(f"model was fitted with exogenous {self.exog_columns_}; "
                                   "X_future is required", field="X_future", value=None)
            exog = exog_values(X_future, index, self.exog_columns_, "X_future")
        lookback, _, block, _ = self.shapes_
        out: list[float] = []
        while len(out) < horizon:
            steps = min(block, horizon - len(out))
            target_index = future_index(y.index, block)
            x = None
            if exog is not None:
                x = exog.reindex(target_index).ffill().to_numpy()
            seq = self._sequence(y)[None]
            fut = self._future(target_index, x)[None]
            scaled = np.asarray(self.network_([seq, fut], training=False))[0]
            if self.ref_pos_ is not None:
                scaled = scaled + seq[0, self.ref_pos_, 0]
            values = scaled * self.std_ + self.mean_
            out.extend(values[:steps].tolist())
            y = pd.concat([y, pd.Series(values[:steps], target_index[:steps])]).iloc[-lookback:]
            y.index.freq = self.history_.index.freq
        return np.asarray(out, dtype=float)

    # -- windows ---------------------------------------------------------------------------

    def _sequence(self, y: pd.Series) -> np.ndarray:
        z = (y.to_numpy() - self.mean_) / self.std_
        position = np.linspace(-1.0, 0.0, len(y))
        return np.column_stack([z, _calendar(y.index), position]).astype("float32")

    def _future(self, index: pd.DatetimeIndex, x: np.ndarray | None) -> np.ndarray:
        cols = [_calendar(index)] if x is None else [_calendar(index), x]
        return np.hstack(cols).ravel().astype("float32")

    def _windows(self, y: pd.Series, exog: pd.DataFrame | None, lookback: int,
                 horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        full = self._sequence(y)
        future = np.hstack([_calendar(y.index)] if exog is None
                           else [_calendar(y.index), exog.to_numpy()]).astype("float32")
        z = full[:, 0]
        starts = np.arange(0, len(y) - lookback - horizon + 1, self.stride)
        seq = np.stack([full[s:s + lookback] for s in starts])
        seq[:, :, -1] = np.linspace(-1.0, 0.0, lookback)
        fut = np.stack([future[s + lookback:s + lookback + horizon].ravel() for s in starts])
        target = np.stack([z[s + lookback:s + lookback + horizon] for s in starts])
        ref_pos = getattr(self, "ref_pos_", None)
        if ref_pos is not None:
            target = target - seq[:, ref_pos, 0]
        return seq, fut, target.astype("float32")

    # -- pickling: Keras models are stored as weights and rebuilt ---------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        network = state.pop("network_", None)
        if network is not None:
            state["network_weights_"] = network.get_weights()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("network_weights_", None)
        self.__dict__.update(state)
        if weights is not None:
            network = self._build_network(*self.shapes_)
            network.set_weights(weights)
            self.network_ = network


class LSTMForecaster(_KerasForecaster):
    """Stacked LSTM (128/64/32 units, dropout 0.2) as the seed sketches it."""

    def __init__(self, lookback: int | None = None, max_horizon: int | None = None,
                 units: tuple[int, ...] = (128, 64, 32), dropout: float = 0.2,
                 epochs: int = 30, batch_size: int = 64, learning_rate: float = 1e-3,
                 validation_fraction: float = 0.1, patience: int = 4, stride: int = 1,
                 anchor: bool = True, random_state: int = 0, verbose: int = 0) -> None:
        super().__init__(lookback, max_horizon, epochs, batch_size, learning_rate,
                         validation_fraction, patience, stride, anchor, random_state, verbose)
        self.units = units
        self.dropout = dropout

    def _build_network(self, lookback: int, channels: int, horizon: int,
                       future_features: int) -> Any:
        from tensorflow import keras

        seq = keras.Input((lookback, channels), name="past")
        fut = keras.Input((future_features,), name="future")
        x = seq
        for i, units in enumerate(self.units):
            x = keras.layers.LSTM(units, return_sequences=i < len(self.units) - 1)(x)
            x = keras.layers.Dropout(self.dropout)(x)
        x = keras.layers.Concatenate()([x, fut])
        x = keras.layers.Dense(64, activation="relu")(x)
        return keras.Model([seq, fut], keras.layers.Dense(horizon)(x), name="lstm_forecaster")


class TransformerForecaster(_KerasForecaster):
    """Encoder blocks of multi-head self-attention + feed-forward, residuals and layer norm."""

    def __init__(self, lookback: int | None = None, max_horizon: int | None = None,
                 d_model: int = 32, num_heads: int = 4, ff_dim: int = 64, num_blocks: int = 2,
                 dropout: float = 0.1, epochs: int = 30, batch_size: int = 64,
                 learning_rate: float = 1e-3, validation_fraction: float = 0.1,
                 patience: int = 4, stride: int = 1, anchor: bool = True, random_state: int = 0,
                 verbose: int = 0) -> None:
        super().__init__(lookback, max_horizon, epochs, batch_size, learning_rate,
                         validation_fraction, patience, stride, anchor, random_state, verbose)
        self.d_model = d_model
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.num_blocks = num_blocks
        self.dropout = dropout

    def _build_network(self, lookback: int, channels: int, horizon: int,
                       future_features: int) -> Any:
        from tensorflow import keras

        layers = keras.layers
        seq = keras.Input((lookback, channels), name="past")
        fut = keras.Input((future_features,), name="future")
        x = layers.Dense(self.d_model)(seq)
        for _ in range(self.num_blocks):
            attn = layers.MultiHeadAttention(self.num_heads, max(1, self.d_model // self.num_heads),
                                             dropout=self.dropout)(x, x)
            x = layers.LayerNormalization()(layers.Add()([x, attn]))
            ff = layers.Dense(self.ff_dim, activation="relu")(x)
            ff = layers.Dropout(self.dropout)(layers.Dense(self.d_model)(ff))
            x = layers.LayerNormalization()(layers.Add()([x, ff]))
        last = layers.Lambda(lambda t: t[:, -1, :], output_shape=(self.d_model,))(x)
        pooled = layers.GlobalAveragePooling1D()(x)
        x = layers.Concatenate()([last, pooled, fut])
        x = layers.Dense(64, activation="relu")(x)
        return keras.Model([seq, fut], layers.Dense(horizon)(x), name="transformer_forecaster")


def _anchor_positions(lookback: int, horizon: int, day: int) -> np.ndarray:
    """Index in the input window of the same time on the last observed day, per output step."""
    steps = np.arange(horizon)
    positions = lookback + steps - day * ((steps + day) // day)
    if positions.min() < 0:
        need = int(lookback - positions.min())
        raise InvalidInput(f"anchor=True needs lookback >= {need} (whole days covering the "
                           f"horizon), got {lookback}", field="lookback", value=lookback)
    return positions




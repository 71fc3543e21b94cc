"""Gradient-boosted trees (scikit-learn HistGradientBoosting) on the feature pipeline.

Direct multi-horizon with the horizon as a feature: one model learns every step ``h`` ahead of
an origin ``o`` from (a) the state at ``o`` (lags, rolling statistics, differences from
:mod:`models.features`), (b) ``h`` and the calendar of the target time ``o + h``, (c) the last
observed values at the same time of day and of week as the target, and (d) exogenous ``X`` at
the target time. One model instead of one per step fits ``max_horizon`` times faster and shares
data across steps; horizons beyond ``max_horizon`` are forecast block by block, feeding the
previous block back as history.

Global use across meters: :meth:`GBMForecaster.fit_global` takes many series (a mapping or a
``(key, timestamp)`` MultiIndex series); every row is divided by the series' mean absolute value
up to its origin (expanding, or over the last ``scale_window`` steps; causal: no later data sets
the scale), so one model serves meters of any size. :meth:`predict_global` forecasts them all, and
``predict(horizon, history=series)`` forecasts any series, including a meter not seen in fit.

``target="delta"`` (default) learns ``y[o+h]`` minus the same time on the last observed day;
``"level"`` learns the scaled value itself, which suits stationary, noisy series because it does
not carry that day's noise forward. Taylor day-ahead, 28 midnight origins, refit each: MASE
0.175 (delta, expanding scale), 0.181 (delta, one-week scale), 0.204 (level, one-week scale).

``n_threads`` caps OpenMP threads (default 1): on a shared, loaded machine HistGradientBoosting
with all cores spin-waits and runs ~10x slower; ``None`` uses every core.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

from models.errors import InvalidInput
from models.features import (
    LAGS,
    WINDOWS,
    FeatureConfig,
    build_features,
    calendar_features,
)
from models.forecasting.base import (
    check_fitted,
    check_horizon,
    check_series,
    exog_values,
    future_index,
    season_lengths,
)

SeriesSet: TypeAlias = Mapping[Hashable, pd.Series] | pd.Series
ExogSet: TypeAlias = Mapping[Hashable, pd.DataFrame] | None


class GBMForecaster(BaseEstimator):  # type: ignore[misc]
    """Direct multi-horizon HistGradientBoosting forecaster; see the module docstring."""

    def __init__(self, max_horizon: int | None = None, lags: Sequence[int] | None = None,
                 windows: Sequence[int] | None = None, diffs: Sequence[int] | None = None,
                 country: str | None = "GB", tz: str | None = None,
                 target: Literal["delta", "level"] = "delta", max_iter: int = 300,
                 learning_rate: float = 0.05, max_leaf_nodes: int = 31,
                 min_samples_leaf: int = 20, l2_regularization: float = 0.0,
                 max_samples: int | None = 60_000, scale_window: int | None = None,
                 n_threads: int | None = 1,
                 random_state: int = 0) -> None:
        self.max_horizon = max_horizon
        self.lags = lags
        self.windows = windows
        self.diffs = diffs
        self.country = country
        self.tz = tz
        self.target = target
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_samples = max_samples
        self.scale_window = scale_window
        self.n_threads = n_threads
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> GBMForecaster:
        """Fit on one series; ``X`` (optional) holds exogenous values on ``y``'s timestamps."""
        return self.fit_global({None: y}, None if X is None else {None: X})

    def fit_global(self, series: SeriesSet, X: ExogSet = None) -> GBMForecaster:
        """Fit one model on many series (same frequency), e.g. every meter of a microgrid."""
        series = _split(series)
        if not series:
            raise InvalidInput("fit_global needs at least one series", field="series", value=0)
        if self.scale_window is not None and (not isinstance(self.scale_window, int)
                                              or self.scale_window < 1):
            raise InvalidInput(f"scale_window must be None or an integer >= 1, got "
                               f"{self.scale_window!r}", field="scale_window",
                               value=self.scale_window)
        if self.target not in ("delta", "level"):
            raise InvalidInput(f"target must be 'delta' or 'level', got {self.target!r}",
                               field="target", value=self.target)
        freqs = {s.index.freq for s in series.values() if isinstance(s, pd.Series)}
        if len(freqs) > 1:
            raise InvalidInput(f"all series must share one frequency, got {sorted(map(str, freqs))}",
                               field="series", value=sorted(map(str, freqs)))
        first = next(iter(series.values()))
        freq = first.index.freq if isinstance(first, pd.Series) else None
        self._day, self._week = season_lengths(freq)
        horizon = self.max_horizon if self.max_horizon is not None else self._day
        check_horizon(horizon)
        self.lags_, self.windows_, self.diffs_ = self._steps(self._day, self._week)
        parts, targets = [], []
        self.history_: dict[Hashable, pd.Series] = {}
        self.exog_columns_: list[str] = [] if X is None else _exog_columns(X)
        # each series keeps at most twice its share of max_samples, so that many meters never
        # stack millions of rows before the final subsample
        quota = None if self.max_samples is None else -(-2 * self.max_samples // len(series))
        rng = np.random.default_rng(self.random_state)
        for key, y in series.items():
            y = check_series(y, min_length=max(2 * horizon, 2 * self._day, 8),
                             name="y" if key is None else f"y[{key!r}]")
            x = None if X is None else _exog(X, key, y.index, self.exog_columns_)
            design, target = self._training_rows(y, x, horizon)
            if quota is not None and len(target) > quota:
                pick = np.sort(rng.choice(len(target), quota, replace=False))
                design, target = design[pick], target[pick]
            parts.append(design)
            targets.append(target)
            self.history_[key] = y
        design = np.vstack(parts)
        target = np.concatenate(targets)
        design, target = self._subsample(design, target)
        self.model_ = HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, random_state=self.random_state)
        try:
            with threadpool_limits(self.n_threads, user_api="openmp"):
                self.model_.fit(design, target)
        except ValueError as err:  # sklearn's InvalidParameterError is a ValueError
            raise InvalidInput(f"bad GBM hyperparameter: {err}", field="params") from err
        self.horizon_ = horizon
        self.freq_ = freq
        return self

    def _steps(self, day: int, week: int) -> tuple[list[int], list[int], list[int]]:
        """Feature steps: the pipeline defaults plus one day; differences over 1, day, week."""
        lags = sorted({*LAGS, day}) if self.lags is None else list(self.lags)
        windows = sorted({*WINDOWS, day}) if self.windows is None else list(self.windows)
        diffs = [1, day, week] if self.diffs is None else list(self.diffs)
        return lags, windows, diffs

    def _training_rows(self, y: pd.Series, x: pd.DataFrame | None,
                       horizon: int) -> tuple[np.ndarray, np.ndarray]:
        values = y.to_numpy()
        n = len(values)
        scales = _causal_scale(values, self.scale_window)  # row i: level known at origin i
        state = self._state(y) / scales[:, None]           # row i: state at origin i
        calendar = self._calendar(y.index)
        start = max(max(self.lags_, default=1), 1) - 1      # first origin with all lags known
        origins = np.arange(start, n - 1)
        rows, targets = [], []
        for h in range(1, horizon + 1):
            o = origins[origins + h < n]
            t = o + h
            scale = scales[o]
            rows.append(self._rows(values, scale, state[o], calendar[t],
                                   None if x is None else x.to_numpy()[t], t, h))
            targets.append(self._encode(values, scale, t, h))
        return np.vstack(rows), np.concatenate(targets)

    def _subsample(self, design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = np.isfinite(target)
        design, target = design[keep], target[keep]
        if self.max_samples is not None and len(target) > self.max_samples:
            rng = np.random.default_rng(self.random_state)
            pick = np.sort(rng.choice(len(target), self.max_samples, replace=False))
            design, target = design[pick], target[pick]
        if len(target) == 0:
            raise InvalidInput("no complete training rows; give a longer series", field="y",
                               value=0)
        return design, target

    # -- prediction ------------------------------------------------------------------------

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None, *,
                history: pd.Series | None = None) -> np.ndarray:
        """Forecast ``horizon`` steps after the fitted series, or after ``history`` if given.

        Exogenous values are used at target times only, so ``X_future`` is all a new meter needs.
        """
        check_fitted(self, "model_")
        if history is None:
            if len(self.history_) != 1:
                raise InvalidInput("this model was fitted on several series; pass history= or "
                                   "use predict_global", field="history", value=None)
            history = next(iter(self.history_.values()))
        else:
            history = check_series(history, min_length=self._day, name="history")
            if history.index.freq != self.freq_:
                raise InvalidInput(f"history frequency {history.index.freq} differs from the "
                                   f"fitted {self.freq_}", field="history.index.freq",
                                   value=str(history.index.freq))
        horizon = check_horizon(horizon)
        x_future = self._future_exog(X_future, history.index, horizon)
        return self._forecast(history, x_future, horizon)

    def predict_global(self, horizon: int, X_future: ExogSet = None) -> pd.DataFrame:
        """Forecast every fitted series: one column per key, indexed by future timestamps."""
        check_fitted(self, "model_")
        horizon = check_horizon(horizon)
        out = {}
        for key, y in self.history_.items():
            x = None if X_future is None else _pick(X_future, key, "X_future")
            out[key] = self._forecast(y, self._future_exog(x, y.index, horizon), horizon)
        index = future_index(next(iter(self.history_.values())).index, horizon)
        return pd.DataFrame(out, index=index)

    def _forecast(self, history: pd.Series, x_future: np.ndarray | None,
                  horizon: int) -> np.ndarray:
        need = max([*self.lags_, *(w + 1 for w in self.windows_), *(d + 2 for d in self.diffs_),
                    self._week * (1 + -(-self.horizon_ // self._week))]) + 1
        y = history.iloc[-need:]
        out: list[np.ndarray] = []
        while sum(map(len, out)) < horizon:
            steps = min(self.horizon_, horizon - sum(map(len, out)))
            done = sum(map(len, out))
            known = np.concatenate([history.to_numpy(), *out])
            scale = _causal_scale(known, self.scale_window)[-1:]
            block = self._block(y, scale, None if x_future is None
                                else x_future[done:done + steps], steps)
            out.append(block)
            idx = future_index(y.index, steps)
            y = pd.concat([y, pd.Series(block, idx)]).iloc[-need:]
            y.index.freq = history.index.freq
        return np.concatenate(out)

    def _block(self, y: pd.Series, scale: np.ndarray, x: np.ndarray | None,
               steps: int) -> np.ndarray:
        values = y.to_numpy()
        n = len(values)
        state = self._state(y)[-1:] / scale[:, None]
        target_index = future_index(y.index, steps)
        calendar = self._calendar(target_index)
        extended = np.concatenate([values, np.full(steps, np.nan)])
        rows = [self._rows(extended, scale, state, calendar[[h - 1]],
                           None if x is None else x[[h - 1]], np.array([n + h - 1]), h)
                for h in range(1, steps + 1)]
        with threadpool_limits(self.n_threads, user_api="openmp"):
            raw = self.model_.predict(np.vstack(rows))
        t = np.arange(n, n + steps)
        if self.target == "delta":
            return np.asarray((raw * scale + _ref(extended, t, np.arange(1, steps + 1),
                                                 self._day)), dtype=float)
        return np.asarray(raw * scale, dtype=float)

    # -- design matrix ---------------------------------------------------------------------

    def _state(self, y: pd.Series) -> np.ndarray:
        """Row i: target-derived features known at origin i (build_features one step later)."""
        ext = pd.concat([y, pd.Series([np.nan], future_index(y.index, 1))])
        ext.index.freq = y.index.freq
        config = FeatureConfig(lags=self.lags_, windows=self.windows_, diffs=self.diffs_,
                               calendar=False, cyclical=False, country=None)
        return build_features(ext, config=config).to_numpy()[1:]

    def _calendar(self, index: pd.DatetimeIndex) -> np.ndarray:
        return calendar_features(index, country=self.country, tz=self.tz).to_numpy(dtype=float)

    def _rows(self, values: np.ndarray, scale: np.ndarray, state: np.ndarray,
              calendar: np.ndarray,
              x: np.ndarray | None, t: np.ndarray, h: int) -> np.ndarray:
        hs = np.full(len(t), h)
        refs = np.column_stack([_ref(values, t, hs, self._day), _ref(values, t, hs, self._week)])
        cols = [state, np.full((len(t), 1), float(h)), calendar, refs / scale[:, None]]
        if x is not None:
            cols.append(x)
        return np.hstack(cols)

    def _encode(self, values: np.ndarray, scale: np.ndarray, t: np.ndarray,
                h: int) -> np.ndarray:
        if self.target == "delta":
            return (values[t] - _ref(values, t, np.full(len(t), h), self._day)) / scale
        return values[t] / scale

    def _future_exog(self, X_future: pd.DataFrame | None, index: pd.DatetimeIndex,
                     horizon: int) -> np.ndarray | None:
        if not self.exog_columns_:
            return None
        if X_future is None:
            raise InvalidInput(f"model was fitted with exogenous {self.exog_columns_}; "
                               "X_future is required", field="X_future", value=None)
        wanted = future_index(index, horizon)
        return _exog(X_future, None, wanted, self.exog_columns_, "X_future").to_numpy()


def _ref(values: np.ndarray, t: np.ndarray, h: np.ndarray, season: int) -> np.ndarray:
    """The latest observed value one or more whole seasons before target t (known at t - h)."""
    lag = season * -(-h // season)
    src = t - lag
    out = np.full(len(t), np.nan)
    ok = src >= 0
    out[ok] = values[src[ok]]
    return out


def _causal_scale(values: np.ndarray, window: int | None) -> np.ndarray:
    """Mean |y| up to each index (expanding, or the last ``window`` steps); 1 where it is 0."""
    past = pd.Series(np.abs(values))
    roll = past.expanding() if window is None else past.rolling(window, min_periods=1)
    scale = roll.mean().to_numpy()
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


def _split(series: SeriesSet) -> dict[Hashable, pd.Series]:
    """A mapping of series, or a (key, timestamp) MultiIndex series split by its first level."""
    if isinstance(series, pd.Series):
        if not isinstance(series.index, pd.MultiIndex) or series.index.nlevels != 2:
            raise InvalidInput("a single series for fit_global must have a (key, timestamp) "
                               "MultiIndex; use fit(y) for one series", field="series",
                               value=type(series.index).__name__)
        out = {}
        for key, part in series.groupby(level=0, sort=False):
            s = part.droplevel(0).sort_index()
            freq = pd.infer_freq(s.index) if len(s) >= 3 else None
            if freq is None:
                raise InvalidInput(f"series {key!r} has no regular frequency; fill its gaps",
                                   field="series", row=key, value=None)
            out[key] = s.asfreq(freq)
        return out
    return dict(series)


def _exog_columns(X: Mapping[Hashable, pd.DataFrame]) -> list[str]:
    first = next(iter(X.values()))
    if not isinstance(first, pd.DataFrame):
        raise InvalidInput(f"X must be a DataFrame, got {type(first).__name__}", field="X",
                           value=type(first).__name__)
    return [str(c) for c in first.columns]


def _pick(X: Mapping[Hashable, pd.DataFrame], key: Hashable, name: str) -> pd.DataFrame:
    if key not in X:
        raise InvalidInput(f"{name} has no frame for series {key!r}", field=name, row=key)
    return X[key]


def _exog(X: Mapping[Hashable, pd.DataFrame] | pd.DataFrame, key: Hashable,
          index: pd.DatetimeIndex, columns: list[str], name: str = "X") -> pd.DataFrame:
    """Exogenous values for exactly ``index`` and ``columns``, numeric, no infinities."""
    frame = X if isinstance(X, pd.DataFrame) else _pick(X, key, name)
    return exog_values(frame, index, columns, name, allow_nan=True)  # the trees handle NaN

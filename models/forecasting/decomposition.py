"""STL / MSTL decomposition into trend, one seasonal component per period, and remainder.

The seasonal components are estimated with statsmodels' MSTL using local-constant seasonal
smoothing (``seasonal_deg=0``, as R's ``forecast::mstl``); a season is used only when the
series holds at least two full cycles of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tsa.seasonal import MSTL

from models.errors import InvalidInput
from models.forecasting.base import check_series, repeat_cycle, season_lengths
from models.forecasting.daylight import drift_adjustment


def default_windows(n: int) -> list[int]:
    """MSTL's seasonal smoother lengths in cycles for ``n`` periods (statsmodels' 7 + 4 i)."""
    return [7 + 4 * (i + 1) for i in range(n)]


@dataclass(frozen=True)
class Components:
    """Arrays of an additive decomposition: ``seasonal`` has one column per period."""

    trend: np.ndarray
    seasonal: np.ndarray
    resid: np.ndarray
    periods: tuple[int, ...]
    windows: tuple[int, ...] = ()

    @property
    def deseasonalised(self) -> np.ndarray:
        """Trend plus remainder: the series with every seasonal component removed."""
        return self.trend + self.resid

    def seasonal_forecast(self, horizon: int, drift_mask: np.ndarray | None = None) -> np.ndarray:
        """Each seasonal component's last cycle repeated over ``horizon`` steps, summed.

        With ``drift_mask`` (one bool per step), the shortest (daily) component also moves
        along its recent drift in the masked steps (see ``daylight.drift_adjustment``).
        """
        out = np.zeros(horizon)
        for j, period in enumerate(self.periods):
            out += repeat_cycle(self.seasonal[-period:, j], horizon)
        if drift_mask is not None:
            window = self.windows[0] if self.windows else default_windows(1)[0]
            out += drift_adjustment(self.seasonal[:, 0], self.periods[0], window, horizon,
                                    drift_mask)
        return out


def usable_periods(n: int, periods: Sequence[int]) -> tuple[int, ...]:
    """The periods with more than two full cycles in ``n`` values (MSTL's rule), sorted."""
    return tuple(sorted(int(p) for p in periods if 2 * int(p) < n))


def decompose(values: np.ndarray, periods: Sequence[int],
              windows: Sequence[int] | None = None, iterate: int = 2) -> Components:
    """MSTL of a finite 1-D array; ``periods`` must already be usable (see usable_periods)."""
    periods = tuple(periods)
    if not periods:
        raise InvalidInput("the series is shorter than two cycles of its shortest season",
                           field="y", value=len(values))
    if windows is None:
        windows = default_windows(len(periods))
    windows = [w + 1 if w % 2 == 0 else w for w in windows][: len(periods)]
    result = MSTL(np.asarray(values, dtype="float64"), periods=periods, windows=windows,
                  iterate=iterate if len(periods) > 1 else 1,
                  stl_kwargs={"seasonal_deg": 0}).fit()
    seasonal = np.asarray(result.seasonal, dtype="float64").reshape(len(values), -1)
    return Components(trend=np.asarray(result.trend, dtype="float64"), seasonal=seasonal,
                      resid=np.asarray(result.resid, dtype="float64"), periods=periods,
                      windows=tuple(windows))


def stl_decompose(y: pd.Series, periods: Sequence[int] | None = None,
                  windows: Sequence[int] | None = None, log: bool = False) -> pd.DataFrame:
    """Decompose ``y`` into trend, ``seasonal_<period>`` columns, ``seasonal`` and ``resid``.

    ``periods`` defaults to a day and a week in steps of ``y.index.freq``; seasons with fewer
    than two cycles in ``y`` are dropped. With ``log`` the decomposition is multiplicative
    (done on log y, all values must be positive) and the components are on the log scale.
    """
    values = check_series(y, min_length=4)
    periods = season_lengths(y.index.freq) if periods is None else tuple(periods)
    for p in periods:
        if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 2:
            raise InvalidInput(f"periods must be integers >= 2, got {p!r}", field="periods",
                               value=p)
    usable = usable_periods(len(values), periods)
    if not usable:
        raise InvalidInput(f"y has {len(values)} values; STL needs at least two cycles "
                           f"({2 * min(periods)} values) of period {min(periods)}",
                           field="y", row=len(values), value=len(values))
    arr = values.to_numpy()
    if log:
        arr = log_values(arr, "y", values.index)
    parts = decompose(arr, usable, windows)
    frame = pd.DataFrame({"trend": parts.trend}, index=y.index)
    for j, p in enumerate(parts.periods):
        frame[f"seasonal_{p}"] = parts.seasonal[:, j]
    frame["seasonal"] = parts.seasonal.sum(axis=1)
    frame["resid"] = parts.resid
    return frame


def log_values(arr: np.ndarray, name: str, index: pd.Index | None = None) -> np.ndarray:
    """Natural log of a positive array; names the first non-positive row otherwise."""
    bad = arr <= 0
    if bad.any():
        i = int(np.argmax(bad))
        row = index[i] if index is not None else i
        raise InvalidInput(f"{name} must be positive for a log transform; row {row} is {arr[i]}",
                           field=name, row=row, value=float(arr[i]))
    return np.log(arr)


_CACHE: dict[tuple[object, ...], Components] = {}
_CACHE_SIZE = 32


def decompose_cached(values: np.ndarray, periods: Sequence[int],
                     windows: Sequence[int] | None = None) -> Components:
    """:func:`decompose`, memoised on the exact values so models sharing a backtest share it."""
    key = (values.shape, hash(np.ascontiguousarray(values).tobytes()), tuple(periods),
           None if windows is None else tuple(windows))
    hit = _CACHE.get(key)
    if hit is None:
        hit = decompose(values, periods, windows)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = hit
    return hit


def clear_cache() -> None:
    """Forget memoised decompositions (e.g. to time fits without hits from earlier runs)."""
    _CACHE.clear()

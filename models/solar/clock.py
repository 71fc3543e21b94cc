"""A meter clock that is off by whole hours (daylight saving time kept, a wrong time zone).

Each clear-ish day's observed production is lined up against the modelled production: the lag
(in steps, within ``max_hours``) with the highest correlation is that day's offset. Offsets are
rounded to whole hours, so an orientation error (which moves the curve by minutes) is never
taken for a clock error, and smoothed with a running median over ``window`` usable days, so a
few misread cloudy days do not flip it. Production stamped ``t`` is then taken to have been made
at ``t - hours``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAY_S = 86_400


@dataclass(frozen=True)
class ClockFit:
    """Whole-hour clock offsets: per history stamp, the latest (used to forecast) and changes."""

    hours: np.ndarray
    latest: int
    changes: tuple[tuple[str, int], ...]
    usable_days: int


def solar_days(index: pd.DatetimeIndex, lon: float) -> np.ndarray:
    """Day number of each stamp on local mean solar time (days never split at noon)."""
    seconds = index.asi8 // 10**9 + round(lon / 15.0 * 3600)
    return np.floor_divide(seconds, DAY_S)


def daily_lags(observed: np.ndarray, modelled: np.ndarray, index: pd.DatetimeIndex, lon: float,
               step: pd.Timedelta, max_hours: int = 2, min_corr: float = 0.9) -> pd.Series:
    """Best lag in hours per solar day (NaN for days too cloudy or short to tell)."""
    full = pd.date_range(index[0], index[-1], freq=step)
    obs = pd.Series(observed, index).reindex(full).to_numpy(dtype=float)
    mod = pd.Series(modelled, index).reindex(full).to_numpy(dtype=float)
    max_lag = round(max_hours * pd.Timedelta("1h") / step)
    pad = np.zeros(max_lag)
    padded = np.concatenate([pad, np.nan_to_num(mod), pad])
    days = solar_days(full, lon)
    bounds = np.flatnonzero(np.diff(days)) + 1
    out: dict[int, float] = {}
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(full)], strict=True):
        o = obs[start:stop]
        ok = np.isfinite(o)
        if ok.sum() < 6 or np.nansum(o) <= 0 or (mod[start:stop][ok] > 0).sum() < 6:
            out[int(days[start])] = np.nan
            continue
        best, best_corr = 0, -1.0
        for lag in range(-max_lag, max_lag + 1):
            m = padded[start + max_lag - lag:stop + max_lag - lag][ok]
            if m.std() == 0:
                continue
            corr = float(np.corrcoef(o[ok], m)[0, 1])
            if corr > best_corr:
                best, best_corr = lag, corr
        out[int(days[start])] = best * step / pd.Timedelta("1h") if best_corr >= min_corr \
            else np.nan
    return pd.Series(out, dtype=float)


def fit_clock(observed: np.ndarray, modelled: np.ndarray, index: pd.DatetimeIndex, lon: float,
              step: pd.Timedelta, window: int = 7, min_days: int = 3) -> ClockFit:
    """Whole-hour offsets per stamp from the daily lags (zero when too few days can tell)."""
    lags = daily_lags(observed, modelled, index, lon, step)
    usable = lags.dropna().round()
    days = solar_days(index, lon)
    if len(usable) < min_days:
        return ClockFit(np.zeros(len(index), dtype=int), 0, (), len(usable))
    smooth = usable.rolling(window, center=True, min_periods=1).median().round()
    per_day = smooth.reindex(np.unique(days)).ffill().bfill().astype(int)
    hours = per_day.reindex(days).to_numpy(dtype=int)
    latest = round(float(usable.iloc[-window:].median()))
    changed = np.flatnonzero(np.diff(per_day.to_numpy())) + 1
    changes = tuple((str(pd.Timestamp(int(per_day.index[i]) * DAY_S, unit="s").date()),
                     int(per_day.iloc[i])) for i in changed)
    return ClockFit(hours, latest, changes, len(usable))


def shift_frame(frame: pd.DataFrame, hours: np.ndarray | int) -> pd.DataFrame:
    """``frame`` re-stamped to the meter's clock: row ``t`` holds what happened at ``t - hours``.

    Rows the frame cannot supply (before its start or after its end) are NaN, and True in the
    boolean columns ``flags`` (night, dark: unknown is no production).
    """
    offsets = np.broadcast_to(np.asarray(hours, dtype=np.int64), (len(frame),))
    if not offsets.any():
        return frame
    source = frame.index - pd.to_timedelta(offsets, unit="h")
    flags = [c for c in frame.columns if frame[c].dtype == bool]
    shifted = frame.astype({c: float for c in flags}).reindex(source)
    shifted.index = frame.index
    for col in flags:
        shifted[col] = shifted[col].fillna(1.0).to_numpy() > 0.5
    return shifted

"""A meter clock that is off by whole hours (daylight saving time kept, a wrong time zone).

Each clear-ish day's observed production is lined up against the modelled production: the lag
(in steps, within ``max_hours``) with the highest correlation is that day's lag. A wrong
orientation also moves the curve (an east array looks early), but slowly over the seasons; a
clock change is a step that lasts. So the daily lags, less the sub-hour offset they share, are
rounded to whole hours, smoothed by a running mode over ``window`` usable days, and runs shorter
than ``min_segment`` usable days (``min_last`` for the first and the latest) are merged into
their neighbours; the lowest level is taken as the right time (a meter kept on daylight saving
time is an hour ahead in summer and right in winter). A constant offset cannot be told from
orientation and is left to it. Production stamped ``t`` is taken to have been made at
``t - hours``.
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
              step: pd.Timedelta, window: int = 9, min_segment: int = 10,
              min_last: int = 4) -> ClockFit:
    """Whole-hour offsets per stamp: steady runs of the rounded daily lags, lowest taken as right."""
    lags = daily_lags(observed, modelled, index, lon, step).dropna()
    days = solar_days(index, lon)
    zero = ClockFit(np.zeros(len(index), dtype=int), 0, (), len(lags))
    if len(lags) < min_segment:
        return zero
    levels = _segments(_running_mode(_whole_hours(lags.to_numpy()), window),
                       min_segment, min_last)
    if levels.min() == levels.max():
        return zero
    levels -= levels.min()
    per_day = pd.Series(levels, index=lags.index.astype(np.int64)).reindex(
        np.unique(days)).ffill().bfill().astype(int)
    hours = per_day.reindex(days).to_numpy(dtype=int)
    changed = np.flatnonzero(np.diff(levels)) + 1
    changes = tuple((str(pd.Timestamp(int(lags.index[i]) * DAY_S, unit="s").date()),
                     int(levels[i])) for i in changed)
    return ClockFit(hours, int(levels[-1]), changes, len(lags))


def _whole_hours(lags: np.ndarray) -> np.ndarray:
    """Lags as whole hours about the sub-hour offset they share (an orientation error moves all)."""
    offsets = np.median(lags) + np.linspace(-0.5, 0.5, 21)
    spread = [np.abs(lags - c - np.round(lags - c)).sum() for c in offsets]
    return np.round(lags - offsets[int(np.argmin(spread))]).astype(int)


def _running_mode(values: np.ndarray, window: int) -> np.ndarray:
    """The most common value of each centred run of ``window`` (ties: the one nearest the median)."""
    half = window // 2
    out = np.empty_like(values)
    for i in range(len(values)):
        part = values[max(0, i - half):i + half + 1]
        kinds, counts = np.unique(part, return_counts=True)
        best = kinds[counts == counts.max()]
        out[i] = best[np.argmin(np.abs(best - np.median(part)))]
    return out


def _segments(levels: np.ndarray, min_segment: int, min_last: int) -> np.ndarray:
    """``levels`` with runs shorter than ``min_segment`` (first, last: ``min_last``) merged away."""
    levels = levels.copy()
    while True:
        starts = np.r_[0, np.flatnonzero(np.diff(levels)) + 1]
        stops = np.r_[starts[1:], len(levels)]
        if len(starts) == 1:
            return levels
        lengths = stops - starts
        edge = (0, len(starts) - 1)
        short = [k for k in range(len(starts))
                 if lengths[k] < (min_last if k in edge else min_segment)]
        if not short:
            return levels
        k = min(short, key=lambda j: lengths[j])
        neighbours = [j for j in (k - 1, k + 1) if 0 <= j < len(starts)]
        into = max(neighbours, key=lambda j: lengths[j])
        levels[starts[k]:stops[k]] = levels[starts[into]]


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

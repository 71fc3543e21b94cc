"""Feature pipeline: calendar, holiday, cyclical, lag, rolling, difference and weather features.

Weather enters demand models as heating and cooling degrees (:func:`degree_features`): how far
the temperature is below the heating base or above the cooling base, now and smoothed over the
recent hours (buildings store heat, so demand follows the last day's temperature as well as the
current one). History uses measured temperature, future steps the weather forecast.

Every feature at time ``t`` uses only data stamped at or before ``t``; target-derived features
(lags, rolling statistics, differences) use only data strictly before ``t`` (``y_{t-1}`` and
older), so a row can be used to predict ``y_t``. Lags, windows and differences count steps of
the series' regular frequency; missing timestamps are treated as missing values, not skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import holidays as holidays_lib
import numpy as np
import pandas as pd

from models.errors import InvalidInput

LAGS: tuple[int, ...] = (1, 2, 3, 6, 12, 24)
WINDOWS: tuple[int, ...] = (3, 6, 12, 24)
STATS: tuple[str, ...] = ("mean", "std", "min", "max")
DIFFS: tuple[int, ...] = (1, 24, 168)
# Degree-day conventions, fixed before any benchmark: 15.5 °C is the UK (Met Office) heating
# base; 22 °C a common cooling base (air conditioning rarely runs below it); a 12-hour
# half-life for the building's thermal memory (about half a day, the usual day/night lag).
HEATING_BASE_C = 15.5
COOLING_BASE_C = 22.0
THERMAL_HALF_LIFE_H = 12.0
DEGREE_COLUMNS: tuple[str, ...] = ("heating_degrees", "cooling_degrees",
                                   "heating_degrees_smooth", "cooling_degrees_smooth")


@dataclass(frozen=True)
class FeatureConfig:
    """What :func:`build_features` computes; every default follows the seed pipeline."""

    lags: Sequence[int] = LAGS
    windows: Sequence[int] = WINDOWS
    stats: Sequence[str] = STATS
    diffs: Sequence[int] = DIFFS
    calendar: bool = True
    cyclical: bool = True
    country: str | None = "GB"
    tz: str | None = None
    weather_columns: Sequence[str] | None = None
    weather_tolerance: pd.Timedelta | None = None


def validate_index(index: pd.Index, name: str = "index") -> pd.DatetimeIndex:
    """Return ``index`` if it is a strictly increasing DatetimeIndex, else raise InvalidInput."""
    if not isinstance(index, pd.DatetimeIndex):
        raise InvalidInput(f"{name} must be a DatetimeIndex, got {type(index).__name__}",
                           field=name, row=None, value=type(index).__name__)
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise InvalidInput(f"{name} has a missing timestamp at row {row}",
                           field=name, row=row, value=None)
    dup = index.duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise InvalidInput(f"{name} has a duplicate timestamp {index[row]} at row {row}",
                           field=name, row=row, value=index[row])
    if not index.is_monotonic_increasing:
        row = int(np.flatnonzero(np.diff(index.asi8) < 0)[0]) + 1
        raise InvalidInput(f"{name} is not increasing: {index[row]} at row {row} comes after "
                           f"{index[row - 1]}", field=name, row=row, value=index[row])
    return index


def infer_freq(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The regular step of ``index``: its ``freq``, or the smallest gap when others are multiples."""
    if index.freq is not None:
        return pd.Timedelta(index.freq)
    if len(index) < 2:
        raise InvalidInput("cannot infer a frequency from fewer than 2 timestamps",
                           field="index", row=None, value=len(index))
    steps = np.diff(index.asi8)
    step = int(steps.min())
    bad = np.flatnonzero(steps % step != 0)
    if step <= 0 or bad.size:
        row = int(bad[0]) + 1 if bad.size else 0
        raise InvalidInput(f"index has no regular frequency: step at row {row} is not a multiple "
                           f"of {pd.Timedelta(step)}", field="index", row=row, value=index[row])
    return pd.Timedelta(step)


def _regular(y: pd.Series, freq: pd.Timedelta) -> pd.Series:
    full = pd.date_range(y.index[0], y.index[-1], freq=freq)
    return y if len(full) == len(y) else y.reindex(full)


def lag_features(y: pd.Series, lags: Sequence[int] = LAGS,
                 freq: pd.Timedelta | None = None) -> pd.DataFrame:
    """``lag_k`` at t is ``y_{t-k}``; lags start at 1 so ``y_t`` never predicts itself."""
    _check_steps(lags, "lags")
    freq = freq or infer_freq(y.index)
    full = _regular(y, freq)
    out = {f"lag_{k}": full.shift(k) for k in lags}
    return pd.DataFrame(out, index=full.index).reindex(y.index)


def rolling_features(y: pd.Series, windows: Sequence[int] = WINDOWS,
                     stats: Sequence[str] = STATS,
                     freq: pd.Timedelta | None = None) -> pd.DataFrame:
    """``roll_{stat}_{w}`` at t over ``y_{t-w} .. y_{t-1}`` (``y_t`` excluded)."""
    _check_steps(windows, "windows")
    unknown = sorted(set(stats) - set(STATS))
    if unknown:
        raise InvalidInput(f"unknown rolling statistic {unknown[0]!r}; use {list(STATS)}",
                           field="stats", row=None, value=unknown[0])
    freq = freq or infer_freq(y.index)
    past = _regular(y, freq).shift(1)
    out = {}
    for w in windows:
        roll = past.rolling(w, min_periods=w)
        for stat in stats:
            out[f"roll_{stat}_{w}"] = getattr(roll, stat)()
    return pd.DataFrame(out, index=past.index).reindex(y.index)


def difference_features(y: pd.Series, diffs: Sequence[int] = DIFFS,
                        freq: pd.Timedelta | None = None) -> pd.DataFrame:
    """``diff_d`` at t is ``y_{t-1} - y_{t-1-d}``: the latest known change over d steps."""
    _check_steps(diffs, "diffs")
    freq = freq or infer_freq(y.index)
    past = _regular(y, freq).shift(1)
    out = {f"diff_{d}": past - past.shift(d) for d in diffs}
    return pd.DataFrame(out, index=past.index).reindex(y.index)


def calendar_features(index: pd.DatetimeIndex, *, cyclical: bool = True,
                      country: str | None = "GB", tz: str | None = None) -> pd.DataFrame:
    """Hour, day of week, month, season (0 winter .. 3 autumn, northern), weekend, holiday.

    ``tz`` converts a zone-aware index to local time first (demand follows local clocks).
    The features are pointwise, so any order of timestamps is accepted.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise InvalidInput(f"index must be a DatetimeIndex, got {type(index).__name__}",
                           field="index", row=None, value=type(index).__name__)
    local = index.tz_convert(tz) if tz is not None and index.tz is not None else index
    hour = local.hour + local.minute / 60.0
    out = pd.DataFrame({
        "hour": local.hour, "dayofweek": local.dayofweek, "month": local.month,
        "season": (local.month % 12) // 3,
        "weekend": (local.dayofweek >= 5).astype(int),
    }, index=index)
    if country is not None:
        out["holiday"] = holiday_flags(local, country)
    if cyclical:
        doy = local.dayofyear - 1
        for name, value, period in (("hour", hour, 24.0), ("dow", local.dayofweek, 7.0),
                                    ("month", local.month - 1, 12.0), ("doy", doy, 365.25)):
            angle = 2 * np.pi * np.asarray(value, dtype=float) / period
            out[f"{name}_sin"] = np.sin(angle)
            out[f"{name}_cos"] = np.cos(angle)
    return out


def holiday_flags(index: pd.DatetimeIndex, country: str = "GB") -> np.ndarray:
    """1 where the (local) date of ``index`` is a public holiday in ``country``, else 0."""
    years = range(int(index.year.min()), int(index.year.max()) + 1) if len(index) else []
    try:
        days = holidays_lib.country_holidays(country, years=years)
    except NotImplementedError as err:
        raise InvalidInput(f"unknown holiday country {country!r}", field="country", row=None,
                           value=country) from err
    dates = pd.DatetimeIndex(sorted(days)) if days else pd.DatetimeIndex([])
    return index.normalize().tz_localize(None).isin(dates).astype(int)


def join_weather(index: pd.DatetimeIndex, weather: pd.DataFrame,
                 columns: Sequence[str] | None = None,
                 tolerance: pd.Timedelta | None = None) -> pd.DataFrame:
    """As-of join: the row at t gets the latest weather stamped at or before t, never after."""
    validate_index(index)
    validate_index(weather.index, "weather index")
    columns = list(weather.columns if columns is None else columns)
    missing = [c for c in columns if c not in weather.columns]
    if missing:
        raise InvalidInput(f"weather is missing column {missing[0]!r}", field=missing[0],
                           row=None, value=None)
    if (index.tz is None) != (weather.index.tz is None):
        raise InvalidInput("weather and series timestamps must both be zone-aware or both naive",
                           field="weather index", row=None, value=str(weather.index.tz))
    left = pd.DataFrame({"_t": index.as_unit("ns")})
    right = weather[columns].rename(columns=lambda c: f"wx_{c}")
    right.insert(0, "_t", weather.index.as_unit("ns"))
    joined = pd.merge_asof(left, right, on="_t", direction="backward", tolerance=tolerance,
                           allow_exact_matches=True)
    return joined.drop(columns="_t").set_index(index)


def degree_features(temperature: pd.Series, *, heating_base: float = HEATING_BASE_C,
                    cooling_base: float = COOLING_BASE_C,
                    half_life_hours: float = THERMAL_HALF_LIFE_H) -> pd.DataFrame:
    """Heating and cooling degrees (°C below / above the bases) at each step, and the same of the
    exponentially smoothed temperature (causal: each row uses that step and earlier ones).

    ``temperature`` is in °C on a regular DatetimeIndex; give history and forecast as one series
    so the smoothing runs on across the forecast origin.
    """
    temp = validate_series(temperature).rename("temperature")
    missing = np.flatnonzero(temp.isna().to_numpy())
    if missing.size:
        raise InvalidInput(f"temperature is missing at {temp.index[missing[0]]} "
                           f"({missing.size} missing)", field="temperature",
                           row=temp.index[missing[0]], value=None)
    if not heating_base <= cooling_base:
        raise InvalidInput(f"heating_base {heating_base} must not exceed cooling_base "
                           f"{cooling_base}", field="heating_base", value=heating_base)
    if not half_life_hours > 0:
        raise InvalidInput(f"half_life_hours must be positive, got {half_life_hours!r}",
                           field="half_life_hours", value=half_life_hours)
    step_hours = infer_freq(temp.index) / pd.Timedelta(hours=1)
    smooth = temp.ewm(halflife=half_life_hours / step_hours, adjust=True).mean()
    out = {}
    for suffix, t in (("", temp), ("_smooth", smooth)):
        out[f"heating_degrees{suffix}"] = (heating_base - t).clip(lower=0.0)
        out[f"cooling_degrees{suffix}"] = (t - cooling_base).clip(lower=0.0)
    return pd.DataFrame(out, index=temp.index)[list(DEGREE_COLUMNS)]


def temperature_on(index: pd.DatetimeIndex, temperature: pd.Series,
                   max_gap: pd.Timedelta = pd.Timedelta(hours=3)) -> pd.Series:
    """``temperature`` at each timestamp of ``index``, linear in time between readings; an
    error names the first timestamp outside the readings or in a gap longer than ``max_gap``."""
    validate_index(index)
    temp = validate_series(temperature).dropna()
    if temp.empty:
        raise InvalidInput("temperature has no values", field="temperature", value=0)
    if (index.tz is None) != (temp.index.tz is None):
        raise InvalidInput("temperature and series timestamps must both be zone-aware or both "
                           "naive", field="temperature", value=str(temp.index.tz))
    stamps, known = temp.index.as_unit("ns").asi8, index.as_unit("ns").asi8
    pos = np.searchsorted(stamps, known)
    before = stamps[np.clip(pos - 1, 0, len(stamps) - 1)]
    after = stamps[np.clip(pos, 0, len(stamps) - 1)]
    exact = (pos < len(stamps)) & (after == known)
    inside = (known >= stamps[0]) & (known <= stamps[-1])
    gap = np.where(exact, 0, after - before)
    bad = ~inside | (gap > max_gap.value)
    if bad.any():
        row = index[int(np.argmax(bad))]
        why = "outside the readings" if not inside[int(np.argmax(bad))] else "in a gap"
        raise InvalidInput(f"no temperature for {row} ({why}; readings {temp.index[0]} .. "
                           f"{temp.index[-1]}; {int(bad.sum())} step(s) lack one)",
                           field="temperature", row=row, value=None)
    values = np.interp(known.astype("float64"), stamps.astype("float64"), temp.to_numpy())
    return pd.Series(values, index=index, name="temperature")


def build_features(y: pd.Series | pd.DataFrame, *, target: str | None = None,
                   weather: pd.DataFrame | None = None,
                   config: FeatureConfig | None = None) -> pd.DataFrame:
    """All configured features for predicting ``y_t`` from data up to ``t`` (weather at t).

    ``y`` is the target series, or a frame whose ``target`` column is the target.
    """
    config = config or FeatureConfig()
    y = validate_series(y, target)
    freq = infer_freq(y.index)
    parts = [lag_features(y, config.lags, freq)]
    if config.windows and config.stats:
        parts.append(rolling_features(y, config.windows, config.stats, freq))
    if config.diffs:
        parts.append(difference_features(y, config.diffs, freq))
    if config.calendar or config.cyclical:
        cal = calendar_features(y.index, cyclical=config.cyclical, country=config.country,
                                tz=config.tz)
        if not config.calendar:
            cal = cal[[c for c in cal.columns if c.endswith(("_sin", "_cos"))]]
        parts.append(cal)
    if weather is not None:
        parts.append(join_weather(y.index, weather, config.weather_columns,
                                  config.weather_tolerance))
    return pd.concat(parts, axis=1)


def validate_series(y: pd.Series | pd.DataFrame, column: str | None = None) -> pd.Series:
    """A numeric Series on a valid DatetimeIndex; picks ``column`` out of a DataFrame."""
    if isinstance(y, pd.DataFrame):
        if column is None or column not in y.columns:
            raise InvalidInput(f"frame is missing the target column {column!r}", field=column,
                               row=None, value=list(y.columns))
        y = y[column]
    if not isinstance(y, pd.Series):
        raise InvalidInput(f"expected a pandas Series, got {type(y).__name__}", field="y",
                           row=None, value=type(y).__name__)
    validate_index(y.index)
    if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        raise InvalidInput(f"series {y.name!r} must be numeric, got {y.dtype}", field=str(y.name),
                           row=None, value=str(y.dtype))
    values = y.to_numpy(dtype=float)
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        raise InvalidInput(f"series {y.name!r} has an infinite value at {y.index[inf[0]]}",
                           field=str(y.name), row=y.index[inf[0]], value=values[inf[0]])
    return y.astype(float)


def _check_steps(steps: Sequence[int], name: str) -> None:
    for s in steps:
        if not isinstance(s, int | np.integer) or isinstance(s, bool) or s < 1:
            raise InvalidInput(f"{name} must be integers >= 1, got {s!r}", field=name, row=None,
                               value=s)

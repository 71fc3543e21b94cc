"""Public holidays: forecast like Sundays, and kept out of the history the models learn from.

On a public holiday offices and factories close: its demand looks like a Sunday's, not like the
weekday it falls on. Models that repeat weekly patterns (seasonal naive, the ETS and MSTL
seasonal components, the analogs) forecast the weekday instead, and then carry the holiday's
dip into the next weeks' forecasts. ``HolidayAdjusted`` wraps any point model:

- it fits the model on a history whose holidays are replaced by the same weekday one week
  earlier (a normal day; two weeks when that one was a holiday too, left as they are when
  neither is in the history);
- it forecasts a holiday as the model's forecast for that day times, step by step, the ratio of
  the Sunday before to the same weekday before, summed over the ``REFERENCE_WEEKS`` most recent
  weeks of the cleaned history (the model keeps the level and the weather, the ratio gives the
  holiday its Sunday shape). A Sunday holiday, and steps whose reference sums are not positive,
  keep the model's forecast.

The calendar is the ``holidays`` package's, named ``"CC"`` or ``"CC-SUBDIV"`` (``"GB-ENG"``,
``"AU-VIC"``, ``"US"``); dates are read on the site's clock (naive timestamps are local clock
time, aware ones are converted to ``timezone``).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput
from models.forecasting.base import (
    PointModel,
    check_fitted,
    check_horizon,
    future_index,
    steps_per_day,
)

# Four weeks: the month before a holiday, long enough to average out one odd Sunday and short
# enough to follow the season; set before any benchmark ran, not tuned.
REFERENCE_WEEKS = 4
MAX_LOOKBACK_WEEKS = 8  # how far back reference pairs are looked for


def parse_calendar(spec: str) -> tuple[str, str | None]:
    """``"CC"`` or ``"CC-SUBDIV"`` as (country, subdivision), checked against the holidays
    package; a clear error names the field and the value otherwise."""
    import holidays as holidays_lib

    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput(f"holidays must be a country code such as 'GB-ENG' or 'US', got "
                           f"{spec!r}", field="holidays", value=spec)
    country, _, subdiv = spec.strip().partition("-")
    try:
        holidays_lib.country_holidays(country.upper(), subdiv=subdiv.upper() or None, years=2000)
    except (NotImplementedError, KeyError, ValueError) as err:
        raise InvalidInput(f"holidays {spec!r} is not a calendar the holidays package knows "
                           f"({err})", field="holidays", value=spec) from err
    return country.upper(), subdiv.upper() or None


@lru_cache(maxsize=64)
def _calendar(spec: str, years: tuple[int, ...]) -> frozenset[dt.date]:
    import holidays as holidays_lib

    country, subdiv = parse_calendar(spec)
    return frozenset(holidays_lib.country_holidays(country, subdiv=subdiv, years=list(years)))


def local_dates(index: pd.DatetimeIndex, timezone: str) -> pd.DatetimeIndex:
    """The site-clock date (midnight) of each timestamp of ``index``."""
    local = index if index.tz is None else index.tz_convert(timezone).tz_localize(None)
    return local.normalize()


def holiday_mask(index: pd.DatetimeIndex, spec: str, timezone: str = "UTC") -> np.ndarray:
    """True where the site-clock date of ``index`` is a public holiday of calendar ``spec``."""
    dates = local_dates(index, timezone)
    if len(dates) == 0:
        return np.zeros(0, dtype=bool)
    days = _calendar(spec, tuple(range(dates[0].year, dates[-1].year + 1)))
    return np.fromiter((d.date() in days for d in dates), dtype=bool, count=len(dates))


def cleaned_history(values: np.ndarray, holiday: np.ndarray, day: int) -> np.ndarray:
    """``values`` with holiday steps replaced by the same step one week earlier (two weeks when
    that one was a holiday too); steps with neither in the history are left as they are."""
    out = np.asarray(values, dtype="float64").copy()
    week = 7 * day
    for i in np.flatnonzero(holiday):
        for back in (week, 2 * week):
            if i - back >= 0 and not holiday[i - back]:
                out[i] = out[i - back]
                break
    return out


def sunday_ratios(history: np.ndarray, n_future: int, weekdays: np.ndarray, day: int,
                  weeks: int = REFERENCE_WEEKS) -> np.ndarray:
    """Per future step, sum of the Sunday-before steps over sum of the same-weekday-before steps
    in the most recent ``weeks`` weeks of ``history`` (1 where that cannot be formed)."""
    n = len(history)
    ratios = np.ones(n_future)
    for j in range(n_future):
        w = int(weekdays[j])
        if w == 6:  # a Sunday holiday is a Sunday already
            continue
        p = n + j
        sundays, same = [], []
        for k in range(MAX_LOOKBACK_WEEKS):
            s, o = p - (w + 1 + 7 * k) * day, p - (7 + 7 * k) * day
            if 0 <= s < n and 0 <= o < n:
                sundays.append(history[s])
                same.append(history[o])
            if len(sundays) == weeks:
                break
        top, bottom = float(np.sum(sundays)), float(np.sum(same))
        if sundays and top > 0 and bottom > 0:
            ratios[j] = top / bottom
    return ratios


class HolidayAdjusted(BaseEstimator):
    """A point model fitted on holiday-free history whose holiday forecasts take a Sunday's
    shape (see the module docstring). ``model`` is an unfitted point model; ``holidays`` the
    calendar (``"GB-ENG"``); ``timezone`` the site clock for aware timestamps."""

    def __init__(self, model: PointModel | None = None, holidays: str = "GB",
                 timezone: str = "UTC") -> None:
        self.model = model
        self.holidays = holidays
        self.timezone = timezone

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> HolidayAdjusted:
        """Fit the wrapped model on ``y`` with its holidays replaced by normal days."""
        if self.model is None:
            raise InvalidInput("HolidayAdjusted needs a model to wrap", field="model", value=None)
        parse_calendar(self.holidays)
        if not isinstance(y.index, pd.DatetimeIndex) or y.index.freq is None:
            raise InvalidInput("y needs a DatetimeIndex with a frequency", field="y",
                               value=type(y.index).__name__)
        self.day_ = steps_per_day(y.index.freq)
        holiday = holiday_mask(y.index, self.holidays, self.timezone)
        self.history_ = cleaned_history(y.to_numpy(dtype="float64"), holiday, self.day_)
        self.index_ = y.index[-min(len(y), 2 * self.day_):]  # enough to build the future index
        self.holidays_in_history_ = int(holiday.sum())
        cleaned = pd.Series(self.history_, index=y.index, name=y.name)
        self.model_ = self.model.fit(cleaned, X) if holiday.any() else self.model.fit(y, X)
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None) -> np.ndarray:
        """The wrapped model's forecast, holidays reshaped as Sundays."""
        check_fitted(self, "model_")
        horizon = check_horizon(horizon)
        mean = np.asarray(self.model_.predict(horizon, X_future), dtype="float64").reshape(-1)
        future = future_index(self.index_, horizon)
        holiday = holiday_mask(future, self.holidays, self.timezone)
        if not holiday.any():
            return mean
        weekdays = local_dates(future, self.timezone).weekday.to_numpy()
        ratios = sunday_ratios(self.history_, horizon, weekdays, self.day_)
        return np.where(holiday, mean * ratios, mean)

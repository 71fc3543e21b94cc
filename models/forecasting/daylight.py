"""Daylight-aware daily profiles: the evening lighting ramp follows sunset, which moves.

Demand rises as daylight fades (lighting), so the daily profile around sunrise and sunset
drifts by a few minutes a day as the seasons turn (in August in England by ~3 minutes a day).
A decomposition's daily seasonal component is a smoothed average of recent days and lags that
drift; repeating its last cycle therefore forecasts the evening ramp too late (on Taylor's
August demand, 0.7 % too low between 20:00 and 22:00). ``drift_adjustment`` extrapolates the
daily component along its recent per-step drift, but only in *twilight* steps (the sun within
``TWILIGHT_BAND`` degrees of the horizon at the forecast time), where daylight changes, and by
as many days as the smoother lags plus the forecast's lead. Elsewhere the drift is noise.

The sun's position comes from pvlib (NREL SPA) for the :class:`Site` of the demand; a series
with naive timestamps is read as local clock time in the site's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.forecasting.base import future_index

# The band and the slope span were set from the physics before any test (civil and nautical
# twilight reach 12 degrees below the horizon; low sun up to 12 degrees above dims rooms), not
# tuned on the forecast benchmark.
TWILIGHT_BAND = 12.0
DRIFT_SPAN_DAYS = 7


@dataclass(frozen=True)
class Site:
    """Where the demand is: latitude and longitude in degrees, the clock's time zone, and the
    public-holiday calendar (``"GB-ENG"``, ``"AU-VIC"``; None: holidays are not told apart,
    see ``special_days``)."""

    latitude: float
    longitude: float
    timezone: str = "UTC"
    holidays: str | None = None

    def __post_init__(self) -> None:
        for name, value, bound in (("latitude", self.latitude, 90.0),
                                   ("longitude", self.longitude, 180.0)):
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not -bound <= float(value) <= bound:
                raise InvalidInput(f"site {name} must be a number in [-{bound:g}, {bound:g}], "
                                   f"got {value!r}", field=name, value=value)
        try:
            pd.Timestamp("2000-01-01").tz_localize(self.timezone)
        except Exception as err:  # pytz and zoneinfo raise different unknown-zone errors
            raise InvalidInput(f"site timezone {self.timezone!r} is not a known time zone",
                               field="timezone", value=self.timezone) from err
        if self.holidays is not None:
            from models.forecasting.special_days import parse_calendar

            parse_calendar(self.holidays)


def as_site(site: object) -> Site | None:
    """``site`` as a :class:`Site`: None, a Site, or a (latitude, longitude[, timezone[,
    holidays]]) tuple."""
    if site is None or isinstance(site, Site):
        return site
    if isinstance(site, tuple | list) and len(site) in (2, 3, 4):
        return Site(*site)
    raise InvalidInput(f"site must be a Site or (latitude, longitude[, timezone[, holidays]]), "
                       f"got {site!r}",
                       field="site", value=site)


def solar_elevation(index: pd.DatetimeIndex, site: Site) -> np.ndarray:
    """The sun's apparent elevation in degrees at the middle of each step of ``index``."""
    import pvlib  # imported here: only daylight-aware models need it

    step = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None)
    if step is None:
        raise InvalidInput("the index needs a regular frequency to place each step's middle",
                           field="index", value=len(index))
    times = index if index.tz is not None else index.tz_localize(
        site.timezone, ambiguous="NaT", nonexistent="shift_forward")
    middle = times + pd.Timedelta(pd.tseries.frequencies.to_offset(step)) / 2
    sun = pvlib.solarposition.get_solarposition(middle, site.latitude, site.longitude)
    elevation = sun["apparent_elevation"].to_numpy(dtype="float64")
    return np.where(np.asarray(times.isna()), np.nan, elevation)


def twilight_mask(index: pd.DatetimeIndex, site: Site,
                  band: float = TWILIGHT_BAND) -> np.ndarray:
    """True where the sun is within ``band`` degrees of the horizon (an ambiguous hour: False)."""
    elevation = solar_elevation(index, site)
    return np.abs(np.nan_to_num(elevation, nan=np.inf)) <= band


def endpoint_lag(window: int) -> float:
    """Mean age, in cycles, of the weights a tricube LOESS of ``window`` cycles gives the
    newest cycle's neighbours: how far the smoothed seasonal at the end lags its drift
    (2.9 cycles for MSTL's default daily window of 11)."""
    ages = np.arange(window, dtype="float64")
    reach = max(window - 1, 1)
    weights = np.clip(1 - (ages / reach) ** 3, 0, None) ** 3
    return float((weights * ages).sum() / weights.sum())


def drift_adjustment(seasonal: np.ndarray, period: int, window: int, horizon: int,
                     mask: np.ndarray, span: int = DRIFT_SPAN_DAYS) -> np.ndarray:
    """What to add to the repeated last cycle of ``seasonal`` over ``horizon`` steps.

    The per-step drift is the change of the smoothed component over the last ``span`` cycles,
    per cycle; step ``k`` (0-based) reuses a value observed ``1 + k // period`` cycles before
    it, which itself lags by :func:`endpoint_lag` cycles. Only steps where ``mask`` is True
    move; with fewer than ``span + 1`` cycles of history nothing moves.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (horizon,):
        raise InvalidInput(f"mask must have one value per forecast step ({horizon}), got "
                           f"{mask.shape}", field="mask", value=mask.shape)
    if len(seasonal) < period * (span + 1):
        return np.zeros(horizon)
    last = seasonal[-period:]
    slope = (last - seasonal[-period * (span + 1):-period * span]) / span
    steps = np.arange(horizon)
    cycles = endpoint_lag(window) + 1 + steps // period
    return np.where(mask, slope[steps % period] * cycles, 0.0)


def future_twilight(index: pd.DatetimeIndex, horizon: int, site: Site | None) -> np.ndarray | None:
    """The twilight mask of the ``horizon`` steps after ``index`` (None without a site)."""
    if site is None:
        return None
    return twilight_mask(future_index(index, horizon), site)

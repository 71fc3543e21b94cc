"""A forecast-like weather derived from the weather that happened (no stored forecasts ship).

The clear-sky index of GHI is smoothed over three hours and mixed with its daily mean (a
day-ahead forecast cannot place each cloud), times a per-day log-normal error (σ 0.25) and an
AR(1) error (σ 0.12, correlation 0.8 per hour), on the clear sky; air temperature gets
N(0, 1.5 K). Only GHI and temperature are kept: the forecaster decomposes GHI itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

from benchmarks.solar_cases.real import Case


def forecast_like(case: Case, seed: int = 7) -> pd.DataFrame:
    """The case's weather degraded like a day-ahead forecast (seeded, deterministic)."""
    rng = np.random.default_rng(seed)
    wx = case.weather
    step_h = (wx.index[1] - wx.index[0]) / pd.Timedelta("1h")
    shift = {"right": -step_h / 2, "left": step_h / 2, "center": 0.0}[case.label]
    loc = pvlib.location.Location(case.lat, case.lon, altitude=case.altitude)
    clear = loc.get_clearsky(wx.index + pd.Timedelta(hours=shift),
                             model="haurwitz")["ghi"].to_numpy()
    kt = pd.Series(np.where(clear > 10, wx["ghi"] / np.maximum(clear, 1), np.nan), wx.index)
    smooth = kt.rolling("3h", center=True, min_periods=1).mean()
    local = wx.index.tz_convert(case.tz).date
    daily = kt.groupby(local).transform("mean")
    day_id = pd.factorize(local)[0]
    day_err = np.exp(rng.normal(0, 0.25, day_id.max() + 1))
    phi = 0.8 ** step_h
    ar = np.zeros(len(wx))
    noise = rng.normal(0, 0.12 * np.sqrt(1 - phi ** 2), len(wx))
    for i in range(1, len(wx)):
        ar[i] = phi * ar[i - 1] + noise[i]
    kt_f = (0.6 * smooth + 0.4 * daily).fillna(0) * day_err[day_id] * np.exp(ar)
    ghi_f = np.clip(kt_f.to_numpy(), 0, 1.1) * clear
    return pd.DataFrame({"ghi": ghi_f, "temp_air": wx["temp_air"] + rng.normal(0, 1.5, len(wx))},
                        index=wx.index)

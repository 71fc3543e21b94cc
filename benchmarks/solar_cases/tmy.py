"""The derived TMY3 case: real typical-year weather, production from a different physics chain.

Real: pvlib's TMY3 hourly GHI/DNI/DHI, air temperature and wind (NSRDB typical meteorological
year: real months from different years, irradiance partly satellite-modelled), for Greensboro
NC (723170) and Sand Point AK (703165).

Derived (the forecaster does not know these choices): the "observed" production of a 4 kWp
system, computed from the TMY3 irradiance by another chain than the forecaster's: Perez
transposition (forecaster: Hay-Davies), Faiman cell temperature (forecaster: SAPM), actual
tilt 25° / azimuth 195° (stated: 30° / 180°), temperature coefficient -0.45 %/K (stated -0.40),
16 % DC losses (stated 14 %), soiling that builds up 0.15 %/day and is washed off every three
weeks, DC/AC 1.3 (stated 1.2), ±2 % meter noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib

from benchmarks.solar_cases.real import Case

DATA = Path(pvlib.__file__).parent / "data"
SITES = {"TMY Greensboro NC": "723170TYA.CSV", "TMY Sand Point AK": "703165TY.csv"}
KWP = 4.0


def observed_production(wx: pd.DataFrame, meta: dict, rng: np.random.Generator) -> pd.Series:
    """The derived 'truth': a different, unknown-to-the-forecaster physics chain."""
    loc = pvlib.location.Location(meta["latitude"], meta["longitude"], altitude=meta["altitude"])
    times = wx.index - pd.Timedelta("30min")
    sun = loc.get_solarposition(times)
    poa = pvlib.irradiance.get_total_irradiance(
        25, 195, sun["apparent_zenith"].to_numpy(), sun["azimuth"].to_numpy(), wx["dni"].to_numpy(),
        wx["ghi"].to_numpy(), wx["dhi"].to_numpy(),
        dni_extra=pvlib.irradiance.get_extra_radiation(times).to_numpy(),
        airmass=loc.get_airmass(times, solar_position=sun)["airmass_relative"].to_numpy(),
        albedo=0.2, model="perez")
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    temp_cell = pvlib.temperature.faiman(poa_global, wx["temp_air"].to_numpy(),
                                         wx["wind_speed"].to_numpy())
    dc = pvlib.pvsystem.pvwatts_dc(poa_global, temp_cell, KWP, -0.0045)
    days = np.arange(len(wx)) / 24.0
    soiling = 1 - 0.0015 * (days % 21)
    dc = np.clip(np.asarray(dc), 0, None) * 0.84 * soiling
    ac = pvlib.inverter.pvwatts(dc, KWP / 1.3 / 0.96, 0.96)
    ac = np.clip(np.nan_to_num(np.asarray(ac)), 0, None) * (1 + rng.normal(0, 0.02, len(wx)))
    return pd.Series(ac, wx.index, name="production_kwh")


def case(name: str) -> Case:
    """One TMY3 site as a benchmark case (hourly, stamped at the interval end)."""
    data, meta = pvlib.iotools.read_tmy3(DATA / SITES[name], coerce_year=2021)
    wx = data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]].tz_convert("UTC").sort_index()
    observed = observed_production(wx, meta, np.random.default_rng(42))
    tz = f"Etc/GMT{-int(meta['TZ']):+d}"
    return Case(name, wx, observed, KWP, meta["latitude"], meta["longitude"], meta["altitude"],
                tz, "right", "25° tilt, azimuth 195° (derived)")


def cases() -> list[Case]:
    """Both TMY3 sites."""
    return [case(name) for name in SITES]

"""Real measured PV production with its weather, as shipped offline in the ``pvanalytics`` wheel.

Both series come from NREL's PVDAQ, at the Solar Energy Research Facility in Golden, Colorado
(39.742 N, 105.1727 W, 1777 m; PVDAQ system 50 "NREL x-Si 6", nameplate 6 kW DC, fixed at 45°
tilt facing 158°, per the PVDAQ metadata and pvanalytics' own examples): probably the same array.

- ``SERF East``: ``serf_east_15min_ac_power.csv``, the array's 15-minute AC power in W,
  2016-07-01..2016-10-13, with ``serf_east_psm3_data.csv`` (hourly PSM3, already interpolated
  to 15 minutes in the file).
- ``PVDAQ 50 inv. 2``: ``system_50_ac_power_2_full_DST.parquet``, the second AC power channel
  (one inverter, peaking at 3.4 kW: stated here as 3 kW DC, half the array), 15-minute,
  2011-04-15..2013-12-31, with ``system_50_ac_power_2_full_DST_psm3.parquet`` (30-minute,
  interpolated linearly to 15 minutes as pvanalytics' example does). Its clock keeps daylight
  saving time although its stamps say UTC-7 (hence the file name): the meter clock is off by
  an hour from March to November.

The weather is NSRDB PSM3: GHI and air temperature for the actual days, derived from satellite
images (not a ground pyranometer, not a forecast), instantaneous at its stamps; no DNI/DHI and
no wind. It is called "measured weather" below: the weather that happened, not a forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

LAT, LON, ALTITUDE = 39.742, -105.1727, 1777.0
TRUE_TILT, TRUE_AZIMUTH = 45.0, 158.0


@dataclass(frozen=True)
class Case:
    """One PV system: weather and observed kWh per interval on one UTC index, and its specs."""

    name: str
    weather: pd.DataFrame
    production: pd.Series
    kwp: float
    lat: float
    lon: float
    altitude: float
    tz: str
    label: str  # how the weather is stamped: "center" = instantaneous, "right" = interval end
    truth: str  # what is known about the real orientation


def data_dir() -> Path:
    """The ``pvanalytics`` data folder (the ``bench`` extra installs the package)."""
    import pvanalytics

    return Path(pvanalytics.__file__).parent / "data"


def _kwh(power_w: pd.Series) -> pd.Series:
    """W averaged over 15 minutes to kWh per interval; night tare (negative W) is zero."""
    return (power_w.clip(lower=0.0) / 1000.0 * 0.25).rename("production_kwh")


def serf_east() -> Case:
    """SERF East, 15-minute AC power with its 15-minute PSM3 weather."""
    folder = data_dir()
    power = pd.read_csv(folder / "serf_east_15min_ac_power.csv", index_col=0, parse_dates=True)
    wx = pd.read_csv(folder / "serf_east_psm3_data.csv", index_col=0, parse_dates=True)
    index = pd.DatetimeIndex(wx.index).tz_convert("UTC")
    weather = pd.DataFrame({"ghi": wx["ghi"].to_numpy(), "temp_air": wx["temp_air"].to_numpy()},
                           index=index)
    prod = power["ac_power"]
    prod.index = pd.DatetimeIndex(prod.index).tz_convert("UTC")
    prod = _kwh(prod.groupby(level=0).first()).reindex(index)
    return Case("SERF East", weather, prod, 6.0, LAT, LON, ALTITUDE, "Etc/GMT+7", "center",
                "45° tilt, azimuth 158° (PVDAQ metadata)")


def pvdaq_50() -> Case:
    """PVDAQ system 50's second AC channel, with PSM3 interpolated to 15 minutes."""
    folder = data_dir()
    power = pd.read_parquet(folder / "system_50_ac_power_2_full_DST.parquet")
    power = power.set_index("measured_on")["ac_power_2"]
    power.index = pd.DatetimeIndex(power.index).tz_convert("UTC")
    psm3 = pd.read_parquet(folder / "system_50_ac_power_2_full_DST_psm3.parquet").set_index("index")
    psm3.index = pd.DatetimeIndex(psm3.index).tz_convert("UTC")
    grid = pd.date_range(psm3.index[0], psm3.index[-1], freq="15min")
    wx = psm3[["ghi", "temp_air"]].reindex(grid).interpolate(method="time")
    start = max(grid[0], power.index[0])
    wx = wx.loc[start:]
    prod = _kwh(power.groupby(level=0).first()).reindex(wx.index)
    return Case("PVDAQ 50 inv. 2", wx.astype(float), prod, 3.0, LAT, LON, ALTITUDE, "Etc/GMT+7",
                "center", "45° tilt, azimuth 158° (PVDAQ metadata); clock on daylight time")


def cases() -> list[Case]:
    """Every real case, in the order the benchmark prints them."""
    return [serf_east(), pvdaq_50()]


def finite_share(series: pd.Series) -> float:
    """Share of stamps with a finite value (how complete a series is)."""
    return float(np.isfinite(series.to_numpy(dtype=float)).mean())

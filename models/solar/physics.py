"""The physics chain: plane-of-array irradiance, shading, cell temperature, DC and AC power.

Solar position at the middle of each interval, Hay-Davies transposition (DNI/DHI from Erbs when
the weather has only GHI), a beam shading map by sun position, physical incidence-angle losses,
SAPM cell temperature, PVWatts DC with its temperature coefficient, a flat DC loss and the
PVWatts inverter, clipped at the AC limit. The array functions broadcast over orientations, so
a grid of tilts and azimuths is one call (see ``models.solar.identify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pvlib

from models.errors import InvalidInput
from models.solar.weather import (
    Label,
    check_label,
    clear_sky_index,
    irradiance_parts,
    prepare_weather,
    step_hours,
    sun_geometry,
)

SAPM = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]


@dataclass(frozen=True)
class ShadeMap:
    """Share of the beam irradiance that reaches the array, by sun azimuth and elevation cell.

    Cells are ``az_step`` × ``el_step`` degrees from azimuth 0 and elevation 0; ``cells`` maps
    (azimuth index, elevation index) to the unshaded share 0..1; cells not listed are unshaded.
    """

    az_step: float = 10.0
    el_step: float = 5.0
    cells: tuple[tuple[int, int, float], ...] = ()

    def beam_share(self, azimuth: np.ndarray, elevation: np.ndarray) -> np.ndarray:
        """The unshaded beam share for each sun position (1 where no cell says otherwise)."""
        share = np.ones(np.shape(azimuth))
        if not self.cells:
            return share
        az = np.floor(np.mod(azimuth, 360.0) / self.az_step).astype(int)
        el = np.floor(np.clip(elevation, 0.0, 90.0) / self.el_step).astype(int)
        lookup = {(a, e): s for a, e, s in self.cells}
        keys = az * 1000 + el
        for key in np.unique(keys):
            value = lookup.get((int(key) // 1000, int(key) % 1000))
            if value is not None:
                share[keys == key] = value
        return share


@dataclass(frozen=True)
class PVSystem:
    """Panel specs: size (kWp DC), place, orientation (azimuth 180 = south), losses and limits.

    ``ac_limit`` is the inverter's AC limit in kW (default ``kwp / dc_ac_ratio``); ``shade`` the
    beam shading map (none: unshaded).
    """

    kwp: float
    lat: float
    lon: float
    tilt: float = 30.0
    azimuth: float = 180.0
    altitude: float = 0.0
    gamma_pdc: float = -0.004
    losses: float = 0.14
    dc_ac_ratio: float = 1.2
    inverter_efficiency: float = 0.96
    albedo: float = 0.2
    mounting: str = "close_mount_glass_glass"
    ac_limit: float | None = None
    shade: ShadeMap = field(default_factory=ShadeMap)

    def __post_init__(self) -> None:
        checks = {"kwp": self.kwp > 0, "lat": -90 <= self.lat <= 90,
                  "lon": -180 <= self.lon <= 360, "tilt": 0 <= self.tilt <= 90,
                  "azimuth": 0 <= self.azimuth <= 360, "altitude": -500 <= self.altitude <= 9000,
                  "gamma_pdc": -0.02 <= self.gamma_pdc <= 0.0, "losses": -1 < self.losses < 1,
                  "dc_ac_ratio": self.dc_ac_ratio > 0,
                  "inverter_efficiency": 0 < self.inverter_efficiency <= 1,
                  "albedo": 0 <= self.albedo <= 1, "mounting": self.mounting in SAPM,
                  "ac_limit": self.ac_limit is None or self.ac_limit > 0}
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or (isinstance(value, float) and not np.isfinite(value)):
                raise InvalidInput(f"PV system {name}={value!r} is out of range", field=name,
                                   value=value)

    @property
    def ac_limit_kw(self) -> float:
        """The AC limit in kW: stated, or the DC size over the DC/AC ratio."""
        return self.ac_limit if self.ac_limit is not None else self.kwp / self.dc_ac_ratio


def plane_of_array(tilt: np.ndarray | float, azimuth: np.ndarray | float, geo: pd.DataFrame,
                   ghi: np.ndarray, dni: np.ndarray, dhi: np.ndarray,
                   albedo: float = 0.2) -> dict[str, np.ndarray]:
    """Beam and diffuse irradiance on the array after incidence losses (broadcasts orientations)."""
    zenith, sun_az = geo["apparent_zenith"].to_numpy(), geo["solar_azimuth"].to_numpy()
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, zenith, sun_az, dni, ghi, dhi, dni_extra=geo["dni_extra"].to_numpy(),
        albedo=albedo, model="haydavies")
    aoi = np.asarray(pvlib.irradiance.aoi(tilt, azimuth, zenith, sun_az), dtype=float)
    iam = np.nan_to_num(pvlib.iam.physical(aoi), nan=0.0)
    beam = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=float)) * iam
    diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"], dtype=float))
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float))
    return {"beam": beam, "diffuse": diffuse, "poa_global": poa_global,
            "cos_aoi": np.cos(np.radians(aoi))}


def dc_power(effective: np.ndarray, poa_global: np.ndarray, temp_air: np.ndarray,
             wind_speed: np.ndarray, system: PVSystem) -> tuple[np.ndarray, np.ndarray]:
    """DC kW after temperature and flat losses, and the cell temperature (°C)."""
    temp_cell = pvlib.temperature.sapm_cell(poa_global, temp_air, wind_speed,
                                            **SAPM[system.mounting])
    dc = pvlib.pvsystem.pvwatts_dc(effective, temp_cell, system.kwp, system.gamma_pdc)
    return np.clip(np.asarray(dc, dtype=float), 0.0, None) * (1 - system.losses), temp_cell


def ac_power(dc: np.ndarray, system: PVSystem) -> np.ndarray:
    """PVWatts inverter output in kW before the AC limit (kWp / DC-AC ratio sizes its curve)."""
    rating = system.kwp / system.dc_ac_ratio
    ac = pvlib.inverter.pvwatts(dc, rating / system.inverter_efficiency,
                                system.inverter_efficiency)
    ac = np.asarray(ac, dtype=float)
    # beyond its rating PVWatts clips; the AC limit is applied separately, so extend linearly
    return np.clip(np.where(dc * system.inverter_efficiency > rating,
                            dc * system.inverter_efficiency, np.nan_to_num(ac)), 0.0, None)


def physical_power(weather: pd.DataFrame, system: PVSystem, label: Label = "right",
                   geo: pd.DataFrame | None = None) -> pd.DataFrame:
    """Physics chain per interval: AC kW (clipped and not), and the features of the correction."""
    wx = prepare_weather(weather)
    label = check_label(label)
    geo = sun_geometry(wx.index, system.lat, system.lon, system.altitude, label) \
        if geo is None else geo
    ghi, dni, dhi = irradiance_parts(wx, geo)
    arr = plane_of_array(system.tilt, system.azimuth, geo, ghi, dni, dhi, system.albedo)
    share = system.shade.beam_share(geo["solar_azimuth"].to_numpy(), geo["elevation"].to_numpy())
    effective = arr["beam"] * share + arr["diffuse"]
    dc, temp_cell = dc_power(effective, arr["poa_global"], wx["temp_air"].to_numpy(),
                             wx["wind_speed"].to_numpy(), system)
    unclipped = ac_power(dc, system)
    dark = geo["dark"].to_numpy() | (ghi <= 0)
    unclipped = np.where(dark, 0.0, unclipped)
    return pd.DataFrame({
        "ac_kw": np.minimum(unclipped, system.ac_limit_kw), "ac_unclipped_kw": unclipped,
        "poa_global": arr["poa_global"], "temp_cell": np.asarray(temp_cell, dtype=float),
        "temp_air": wx["temp_air"].to_numpy(), "cos_zenith": np.cos(np.radians(geo["apparent_zenith"])),
        "elevation": geo["elevation"].to_numpy(), "solar_azimuth": geo["solar_azimuth"].to_numpy(),
        "kc": clear_sky_index(ghi, geo["ghi_clear"].to_numpy()), "cos_aoi": arr["cos_aoi"],
        "cloud_cover": wx.get("cloud_cover", np.nan), "dark": dark,
    }, index=wx.index)


def clear_sky_power(geo: pd.DataFrame, system: PVSystem, temp_air: np.ndarray) -> np.ndarray:
    """AC kW the system would make under a clear sky (the intervals' scale), zero at night."""
    night = geo["night"].to_numpy()
    ghi, dni, dhi = (np.where(night, 0.0, geo[c].to_numpy())
                     for c in ("ghi_clear", "dni_clear", "dhi_clear"))
    arr = plane_of_array(system.tilt, system.azimuth, geo, ghi, dni, dhi, system.albedo)
    share = system.shade.beam_share(geo["solar_azimuth"].to_numpy(), geo["elevation"].to_numpy())
    dc, _ = dc_power(arr["beam"] * share + arr["diffuse"], arr["poa_global"], temp_air,
                     np.ones_like(temp_air), system)
    return np.minimum(np.where(night, 0.0, ac_power(dc, system)), system.ac_limit_kw)


def physical_production(weather: pd.DataFrame, system: PVSystem,
                        label: Label = "right") -> pd.Series:
    """Physics-only energy per interval in kWh (use when a meter has no history yet)."""
    power = physical_power(weather, system, label)
    return (power["ac_kw"] * step_hours(power.index)).rename("production_kwh")


def fleet_production(meters: pd.DataFrame, weather: pd.DataFrame,
                     label: Label = "right") -> pd.DataFrame:
    """Physics-only kWh per interval for many meters under one weather frame (a microgrid).

    ``meters`` has ``meter_id, pv_kwp, lat, lon`` (the backend's meter rows) and optionally
    ``tilt, azimuth``; meters with ``pv_kwp`` 0 or missing produce 0. One column per meter.
    """
    required = ["meter_id", "pv_kwp", "lat", "lon"]
    missing = [c for c in required if c not in meters.columns]
    if missing:
        raise InvalidInput(f"meters is missing column {missing[0]!r}", field=missing[0])
    out = {}
    for row, meter in enumerate(meters.to_dict("records")):
        kwp = meter["pv_kwp"]
        if kwp is None or (isinstance(kwp, float) and np.isnan(kwp)) or kwp == 0:
            out[meter["meter_id"]] = pd.Series(0.0, index=weather.index)
            continue
        tilt, azimuth = (float(meter[k]) if pd.notna(meter.get(k)) else default
                         for k, default in (("tilt", 30.0), ("azimuth", 180.0)))
        try:
            system = PVSystem(kwp=float(kwp), lat=float(meter["lat"]), lon=float(meter["lon"]),
                              tilt=tilt, azimuth=azimuth)
        except InvalidInput as err:
            raise InvalidInput(f"meter {meter['meter_id']!r}: {err}", field=err.field, row=row,
                               value=err.value) from err
        out[meter["meter_id"]] = physical_production(weather, system, label)
    return pd.DataFrame(out, index=weather.index)

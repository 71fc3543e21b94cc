"""Weather frames for the PV models: names, validation, interval stamps and sun geometry.

A weather frame is UTC-indexed (any zone-aware index) with ``ghi`` (W/m², required), ``dni``,
``dhi``, ``temp_air`` (°C), ``wind_speed`` (m/s), ``cloud_cover`` (%); Open-Meteo names
(``shortwave_radiation``, ``direct_normal_irradiance``, ``diffuse_radiation``, ``temperature_2m``,
``wind_speed_10m``) are accepted. ``label`` says what a stamp stands for: ``"right"`` an interval
average stamped at its end (Open-Meteo, TMY3, meter readings), ``"left"`` at its start,
``"center"`` an instantaneous value (NSRDB PSM3).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pvlib

from models.errors import InvalidInput
from models.features import infer_freq, validate_index

Label = Literal["right", "left", "center"]
ALIASES = {"shortwave_radiation": "ghi", "direct_normal_irradiance": "dni",
           "diffuse_radiation": "dhi", "temperature_2m": "temp_air",
           "wind_speed_10m": "wind_speed"}
COLUMNS = ("ghi", "dni", "dhi", "temp_air", "wind_speed", "cloud_cover")
LINKE_TURBIDITY = 3.0  # a mid-latitude average; h5py (pvlib's monthly maps) is not a dependency


def prepare_weather(weather: pd.DataFrame) -> pd.DataFrame:
    """Renamed, validated weather with non-negative irradiance and defaults for temp/wind."""
    if not isinstance(weather, pd.DataFrame):
        raise InvalidInput(f"weather must be a DataFrame, got {type(weather).__name__}",
                           field="weather", value=type(weather).__name__)
    validate_index(weather.index, "weather index")
    if weather.index.tz is None:
        raise InvalidInput("weather timestamps must be zone-aware (UTC)", field="weather index",
                           row=weather.index[0] if len(weather) else None)
    wx = weather.rename(columns=ALIASES)
    if "ghi" not in wx.columns:
        raise InvalidInput("weather is missing column 'ghi' (or 'shortwave_radiation')",
                           field="ghi", value=list(weather.columns)[:10])
    wx = wx.copy()
    wx["temp_air"] = wx.get("temp_air", 20.0)
    wx["wind_speed"] = wx.get("wind_speed", 1.0)
    for col in [c for c in COLUMNS if c in wx]:
        values = pd.to_numeric(wx[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if col in ("ghi", "dni", "dhi"):
            bad |= values < 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInput(f"weather {col} at {wx.index[i]} is {wx[col].iloc[i]!r}",
                               field=col, row=wx.index[i], value=wx[col].iloc[i])
        wx[col] = values
    return wx


def step_of(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The index's regular step (one hour for a single stamp)."""
    return infer_freq(index) if len(index) > 1 else pd.Timedelta("1h")


def step_hours(index: pd.DatetimeIndex) -> float:
    """The index's step in hours: kW times this is kWh per interval."""
    return float(step_of(index) / pd.Timedelta("1h"))


def check_label(label: str) -> Label:
    """``label`` if it is one of right / left / center, else InvalidInput."""
    if label not in ("right", "left", "center"):
        raise InvalidInput(f"label must be right, left or center, got {label!r}",
                           field="label", value=label)
    return label  # type: ignore[return-value]


def sun_geometry(index: pd.DatetimeIndex, lat: float, lon: float, altitude: float,
                 label: Label) -> pd.DataFrame:
    """Sun position at each interval's middle, with extraterrestrial and clear-sky irradiance.

    ``night`` marks intervals during which the sun stays below the horizon (at their start,
    middle and end); ``dark`` also those with the sun down at their middle or at their stamp:
    there the forecast and its bounds are exactly zero.
    """
    step = step_of(index)
    shift = {"right": -step / 2, "left": step / 2, "center": pd.Timedelta(0)}[label]
    half = pd.Timedelta(0) if label == "center" else step / 2
    times = index + shift
    sun = pvlib.solarposition.get_solarposition(times, lat, lon, altitude)
    zenith = sun["apparent_zenith"].to_numpy()
    night = zenith >= 90
    stamp_up = ~night
    if half > pd.Timedelta(0):
        for edge in (times - half, times + half):
            edge_zenith = pvlib.solarposition.get_solarposition(edge, lat, lon, altitude)[
                "apparent_zenith"].to_numpy()
            night &= edge_zenith >= 90
            if edge.equals(index):
                stamp_up = edge_zenith < 90
    dni_extra = pvlib.irradiance.get_extra_radiation(times).to_numpy()
    airmass = pvlib.atmosphere.get_relative_airmass(np.minimum(zenith, 90.0))
    am_abs = pvlib.atmosphere.get_absolute_airmass(airmass, pvlib.atmosphere.alt2pres(altitude))
    with np.errstate(divide="ignore", invalid="ignore"):
        clear = pvlib.clearsky.ineichen(zenith, am_abs, LINKE_TURBIDITY, altitude, dni_extra)
    return pd.DataFrame({
        "zenith": sun["zenith"].to_numpy(), "apparent_zenith": zenith,
        "elevation": 90.0 - zenith, "solar_azimuth": sun["azimuth"].to_numpy(),
        "dni_extra": dni_extra, "night": night, "dark": night | (zenith >= 90) | ~stamp_up,
        "ghi_clear": np.nan_to_num(np.asarray(clear["ghi"], dtype=float)),
        "dni_clear": np.nan_to_num(np.asarray(clear["dni"], dtype=float)),
        "dhi_clear": np.nan_to_num(np.asarray(clear["dhi"], dtype=float)),
        "doy": times.dayofyear.to_numpy(),
    }, index=index)


def irradiance_parts(wx: pd.DataFrame, geo: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """GHI, DNI, DHI (W/m²), zero at night; DNI/DHI from Erbs when the weather has only GHI."""
    ghi = np.where(geo["night"], 0.0, wx["ghi"].to_numpy())
    if "dni" in wx and "dhi" in wx:
        dni, dhi = wx["dni"].to_numpy(), wx["dhi"].to_numpy()
    else:
        parts = pvlib.irradiance.erbs(ghi, geo["zenith"].to_numpy(), geo["doy"].to_numpy())
        dni, dhi = np.asarray(parts["dni"], dtype=float), np.asarray(parts["dhi"], dtype=float)
    night = geo["night"].to_numpy()
    return ghi, np.where(night, 0.0, np.nan_to_num(dni)), np.where(night, 0.0, np.nan_to_num(dhi))


def clear_sky_index(ghi: np.ndarray, ghi_clear: np.ndarray) -> np.ndarray:
    """GHI over clear-sky GHI, 0..1.5; 0 where the clear sky is under 20 W/m² (dawn, dusk)."""
    return np.where(ghi_clear > 20.0, np.clip(ghi / np.maximum(ghi_clear, 20.0), 0.0, 1.5), 0.0)

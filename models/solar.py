"""PV production forecasts: a physics model (pvlib) times a learned correction.

Physics: solar position at the middle of each interval, plane-of-array irradiance from GHI/DNI/
DHI (Hay-Davies transposition; DNI/DHI decomposed from GHI with Erbs when missing), incidence
angle losses, SAPM cell temperature, PVWatts DC with its temperature coefficient, a flat DC loss
and the PVWatts inverter with clipping. The correction is a model of observed/physical ratio
against sun position, clearness, cloud cover and temperature, fitted with weights physical²
so that it minimises squared production error; it absorbs what the specs and the weather
forecast get wrong (soiling, shading, a mis-stated tilt, forecast bias).

Weather: UTC-indexed frame with ``ghi`` (W/m², required), ``dni``, ``dhi``, ``temp_air`` (°C),
``wind_speed`` (m/s), ``cloud_cover`` (%); Open-Meteo names (``shortwave_radiation``,
``direct_normal_irradiance``, ``diffuse_radiation``, ``temperature_2m``, ``wind_speed_10m``)
are accepted. Values are interval averages stamped at the interval's end (``label="right"``,
as Open-Meteo and TMY3 do). Production is energy per interval in kWh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pvlib
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

from models.errors import InvalidInput, NotFittedError
from models.features import infer_freq, validate_index

ALIASES = {"shortwave_radiation": "ghi", "direct_normal_irradiance": "dni",
           "diffuse_radiation": "dhi", "temperature_2m": "temp_air",
           "wind_speed_10m": "wind_speed"}
SAPM = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]


@dataclass(frozen=True)
class PVSystem:
    """Panel specs: size (kWp DC), place, orientation (azimuth 180 = south) and loss figures."""

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

    def __post_init__(self) -> None:
        checks = {"kwp": self.kwp > 0, "lat": -90 <= self.lat <= 90,
                  "lon": -180 <= self.lon <= 360, "tilt": 0 <= self.tilt <= 90,
                  "azimuth": 0 <= self.azimuth <= 360, "losses": 0 <= self.losses < 1,
                  "dc_ac_ratio": self.dc_ac_ratio > 0,
                  "inverter_efficiency": 0 < self.inverter_efficiency <= 1,
                  "albedo": 0 <= self.albedo <= 1, "mounting": self.mounting in SAPM}
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or (isinstance(value, float) and not np.isfinite(value)):
                raise InvalidInput(f"PV system {name}={value!r} is out of range", field=name,
                                   value=value)


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
                           field="ghi", value=list(weather.columns))
    wx = wx.copy()
    wx["temp_air"] = wx.get("temp_air", 20.0)
    wx["wind_speed"] = wx.get("wind_speed", 1.0)
    for col in [c for c in ("ghi", "dni", "dhi", "temp_air", "wind_speed", "cloud_cover")
                if c in wx]:
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


def physical_power(weather: pd.DataFrame, system: PVSystem,
                   label: Literal["right", "left", "center"] = "right") -> pd.DataFrame:
    """Physics chain per interval: solar position, POA irradiance, cell temperature, AC kW."""
    wx = prepare_weather(weather)
    step = infer_freq(wx.index) if len(wx) > 1 else pd.Timedelta("1h")
    shift = {"right": -step / 2, "left": step / 2, "center": pd.Timedelta(0)}[label]
    times = wx.index + shift
    sun = pvlib.solarposition.get_solarposition(times, system.lat, system.lon, system.altitude)
    zenith = sun["apparent_zenith"].to_numpy()
    dni_extra = pvlib.irradiance.get_extra_radiation(times).to_numpy()
    ghi = wx["ghi"].to_numpy()
    if "dni" in wx and "dhi" in wx:
        dni, dhi = wx["dni"].to_numpy(), wx["dhi"].to_numpy()
    else:
        parts = pvlib.irradiance.erbs(ghi, sun["zenith"].to_numpy(), times.dayofyear.to_numpy())
        dni, dhi = np.asarray(parts["dni"]), np.asarray(parts["dhi"])
    poa = pvlib.irradiance.get_total_irradiance(
        system.tilt, system.azimuth, zenith, sun["azimuth"].to_numpy(), dni, ghi, dhi,
        dni_extra=dni_extra, albedo=system.albedo, model="haydavies")
    aoi = pvlib.irradiance.aoi(system.tilt, system.azimuth, zenith, sun["azimuth"].to_numpy())
    iam = np.nan_to_num(pvlib.iam.physical(aoi), nan=0.0)
    effective = np.nan_to_num(poa["poa_direct"] * iam + poa["poa_diffuse"], nan=0.0)
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float), nan=0.0)
    temp_cell = pvlib.temperature.sapm_cell(poa_global, wx["temp_air"].to_numpy(),
                                            wx["wind_speed"].to_numpy(), **SAPM[system.mounting])
    dc = pvlib.pvsystem.pvwatts_dc(effective, temp_cell, system.kwp, system.gamma_pdc)
    dc = np.clip(np.asarray(dc, dtype=float), 0.0, None) * (1 - system.losses)
    ac_rating = system.kwp / system.dc_ac_ratio
    ac = pvlib.inverter.pvwatts(dc, ac_rating / system.inverter_efficiency,
                                system.inverter_efficiency)
    cos_zenith = np.cos(np.radians(zenith))
    return pd.DataFrame({
        "ac_kw": np.clip(np.nan_to_num(np.asarray(ac, dtype=float)), 0.0, ac_rating),
        "poa_global": poa_global, "temp_cell": np.asarray(temp_cell, dtype=float),
        "cos_zenith": cos_zenith, "solar_azimuth": sun["azimuth"].to_numpy(),
        "clearness": np.clip(ghi / np.maximum(dni_extra * cos_zenith, 50.0), 0.0, 1.5),
        "cos_aoi": np.cos(np.radians(np.asarray(aoi, dtype=float))),
        "cloud_cover": wx.get("cloud_cover", np.nan),
    }, index=wx.index)


def physical_production(weather: pd.DataFrame, system: PVSystem,
                        label: Literal["right", "left", "center"] = "right") -> pd.Series:
    """Physics-only energy per interval in kWh (use when a meter has no history yet)."""
    power = physical_power(weather, system, label)
    hours = _step_hours(power.index)
    return (power["ac_kw"] * hours).rename("production_kwh")


def fleet_production(meters: pd.DataFrame, weather: pd.DataFrame,
                     label: Literal["right", "left", "center"] = "right") -> pd.DataFrame:
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


class SolarForecaster(BaseEstimator):  # type: ignore[misc]
    """Physics model × learned ratio correction for one PV system; see the module docstring."""

    def __init__(self, kwp: float = 4.0, lat: float = 51.5, lon: float = 0.0,
                 tilt: float = 30.0, azimuth: float = 180.0, altitude: float = 0.0,
                 gamma_pdc: float = -0.004, losses: float = 0.14, dc_ac_ratio: float = 1.2,
                 label: Literal["right", "left", "center"] = "right",
                 correction: Literal["gbm", "ridge"] | None = "gbm", max_ratio: float = 2.0,
                 min_samples: int = 48, n_threads: int | None = 1,
                 random_state: int = 0) -> None:
        self.kwp = kwp
        self.lat = lat
        self.lon = lon
        self.tilt = tilt
        self.azimuth = azimuth
        self.altitude = altitude
        self.gamma_pdc = gamma_pdc
        self.losses = losses
        self.dc_ac_ratio = dc_ac_ratio
        self.label = label
        self.correction = correction
        self.max_ratio = max_ratio
        self.min_samples = min_samples
        self.n_threads = n_threads  # OpenMP threads for the GBM; see models.forecasting.gbm
        self.random_state = random_state

    def system(self) -> PVSystem:
        """The panel specs as a validated :class:`PVSystem`."""
        return PVSystem(kwp=self.kwp, lat=self.lat, lon=self.lon, tilt=self.tilt,
                        azimuth=self.azimuth, altitude=self.altitude, gamma_pdc=self.gamma_pdc,
                        losses=self.losses, dc_ac_ratio=self.dc_ac_ratio)

    def fit(self, weather: pd.DataFrame, production: pd.Series) -> SolarForecaster:
        """Learn the correction from weather (forecast or measured) and observed kWh."""
        if self.correction not in ("gbm", "ridge", None):
            raise InvalidInput(f"correction must be 'gbm', 'ridge' or None, got "
                               f"{self.correction!r}", field="correction", value=self.correction)
        if self.label not in ("right", "left", "center"):
            raise InvalidInput(f"label must be right, left or center, got {self.label!r}",
                               field="label", value=self.label)
        system = self.system()
        power = physical_power(weather, system, self.label)
        observed = _production(production, power.index)
        physical = power["ac_kw"].to_numpy() * _step_hours(power.index)
        use = np.isfinite(observed) & (physical > 0.02 * system.kwp * _step_hours(power.index))
        self.system_ = system
        self.model_: Any = None
        self.cloud_ = bool(np.isfinite(power["cloud_cover"]).all())
        if self.correction is not None:
            if use.sum() < self.min_samples:
                raise InvalidInput(f"only {int(use.sum())} daylight intervals with production; "
                                   f"the correction needs {self.min_samples}", field="production",
                                   value=int(use.sum()))
            ratio = np.clip(observed[use] / physical[use], 0.0, self.max_ratio)
            model = self._make_model()
            weight = physical[use] ** 2
            features = _correction_features(power, self.cloud_)[use]
            with threadpool_limits(self.n_threads, user_api="openmp"):
                if self.correction == "ridge":
                    model.fit(features, ratio, ridge__sample_weight=weight)
                else:
                    model.fit(features, ratio, sample_weight=weight)
            self.model_ = model
        mask = np.isfinite(observed) & (physical > 0)
        self.bias_ratio_ = float(observed[mask].sum() / physical[mask].sum()) if mask.any() \
            else float("nan")
        return self

    def predict(self, weather_future: pd.DataFrame) -> pd.Series:
        """Energy per interval (kWh) for the weather forecast's timestamps."""
        if not hasattr(self, "system_"):
            raise NotFittedError("SolarForecaster.predict called before fit")
        power = physical_power(weather_future, self.system_, self.label)
        physical = power["ac_kw"].to_numpy() * _step_hours(power.index)
        ratio = np.ones(len(power))
        if self.model_ is not None and self.cloud_ and power["cloud_cover"].isna().any():
            raise InvalidInput("the correction was fitted with cloud_cover; the forecast has "
                               "none", field="cloud_cover", value=None)
        if self.model_ is not None:
            with threadpool_limits(self.n_threads, user_api="openmp"):
                raw = self.model_.predict(_correction_features(power, self.cloud_))
            ratio = np.clip(raw, 0.0, self.max_ratio)
        return pd.Series(physical * ratio, index=power.index, name="production_kwh")

    def _make_model(self) -> Any:
        if self.correction == "ridge":
            return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
        return HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_depth=4,
                                             min_samples_leaf=40, l2_regularization=1.0,
                                             random_state=self.random_state)


def _correction_features(power: pd.DataFrame, cloud: bool) -> np.ndarray:
    """Sun position, clearness, incidence, cell temperature, season (and cloud cover)."""
    doy = 2 * np.pi * (power.index.dayofyear.to_numpy() - 1) / 365.25
    az = np.radians(power["solar_azimuth"].to_numpy())
    cols = [power["cos_zenith"], np.sin(az), np.cos(az), power["clearness"], power["cos_aoi"],
            power["temp_cell"], np.sin(doy), np.cos(doy)]
    if cloud:
        cols.append(power["cloud_cover"])
    return np.column_stack(cols)


def _production(production: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """Observed kWh aligned to the weather index (NaN where missing); negative is an error."""
    if not isinstance(production, pd.Series):
        raise InvalidInput(f"production must be a Series, got {type(production).__name__}",
                           field="production", value=type(production).__name__)
    validate_index(production.index, "production index")
    values = pd.to_numeric(production, errors="coerce")
    bad = values.isna() & production.notna() | np.isinf(values) | (values < 0)
    if bad.any():
        row = production.index[np.flatnonzero(bad.to_numpy())[0]]
        raise InvalidInput(f"production at {row} is {production[row]!r}; kWh must be a finite "
                           "number >= 0", field="production", row=row, value=production[row])
    if not production.index.isin(index).any():
        raise InvalidInput("production and weather share no timestamps", field="production",
                           row=production.index[0] if len(production) else None)
    return values.reindex(index).to_numpy(dtype=float)


def _step_hours(index: pd.DatetimeIndex) -> float:
    return (infer_freq(index) if len(index) > 1 else pd.Timedelta("1h")) / pd.Timedelta("1h")

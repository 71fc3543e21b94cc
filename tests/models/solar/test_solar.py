"""Solar: physics chain on real TMY3 irradiance, the learned correction, and bad input."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest
from sklearn.base import clone

from models.errors import InvalidInput, NotFittedError
from models.solar import (
    PVSystem,
    SolarForecaster,
    fleet_production,
    physical_power,
    physical_production,
)

TMY = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"   # Greensboro, NC
LAT, LON = 36.1, -79.95


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    data, _ = pvlib.iotools.read_tmy3(TMY, coerce_year=2021)
    return data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]].tz_convert("UTC")


def test_physics_annual_yield_and_limits(weather: pd.DataFrame) -> None:
    system = PVSystem(kwp=4.0, lat=LAT, lon=LON)
    prod = physical_production(weather, system)
    assert 1100 < prod.sum() / 4.0 < 1600          # kWh per kWp per year, North Carolina
    assert (prod >= 0).all() and prod.max() <= 4.0 / 1.2 + 1e-9
    assert (prod[weather["ghi"] == 0] == 0).all()
    summer = prod[prod.index.month == 6].sum()
    assert summer > prod[prod.index.month == 12].sum()


def test_orientation_and_decomposition(weather: pd.DataFrame) -> None:
    south = physical_production(weather, PVSystem(kwp=1, lat=LAT, lon=LON, azimuth=180)).sum()
    north = physical_production(weather, PVSystem(kwp=1, lat=LAT, lon=LON, azimuth=0)).sum()
    assert north < 0.8 * south
    ghi_only = physical_production(weather[["ghi", "temp_air"]],
                                   PVSystem(kwp=1, lat=LAT, lon=LON)).sum()
    assert abs(ghi_only / south - 1) < 0.1         # Erbs decomposition when DNI/DHI missing


def test_open_meteo_names_and_interval_label(weather: pd.DataFrame) -> None:
    day = weather.loc["2021-06-01":"2021-06-02"]
    om = day.rename(columns={"ghi": "shortwave_radiation", "dni": "direct_normal_irradiance",
                             "dhi": "diffuse_radiation", "temp_air": "temperature_2m",
                             "wind_speed": "wind_speed_10m"})
    system = PVSystem(kwp=1, lat=LAT, lon=LON)
    pd.testing.assert_series_equal(physical_production(om, system),
                                   physical_production(day, system))
    right = physical_power(day, system, "right")["cos_zenith"]
    left = physical_power(day, system, "left")["cos_zenith"]
    assert right.idxmax() > left.idxmax()         # sun position at the interval midpoint


def test_correction_learns_soiling_and_beats_physics(weather: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    wx = weather.loc["2021-04-01":"2021-06-30"]
    system = PVSystem(kwp=4.0, lat=LAT, lon=LON)
    truth = physical_production(wx, system)
    # observed: 20% soiling, worse in the afternoon (shade), 5% noise
    afternoon = np.where(truth.index.hour >= 20, 0.7, 1.0)
    observed = truth * 0.8 * afternoon * (1 + rng.normal(0, 0.05, len(truth)))
    train, test = slice("2021-04-01", "2021-06-10"), slice("2021-06-11", "2021-06-30")
    model = SolarForecaster(kwp=4.0, lat=LAT, lon=LON, learn_system=False).fit(
        wx.loc[train], observed.loc[train])
    pred = model.predict(wx.loc[test])
    physics = SolarForecaster(kwp=4.0, lat=LAT, lon=LON, correction=None, learn_system=False).fit(
        wx.loc[train], observed.loc[train]).predict(wx.loc[test])
    err = np.sqrt(((pred - observed.loc[test]) ** 2).mean())
    err_physics = np.sqrt(((physics - observed.loc[test]) ** 2).mean())
    assert err < 0.5 * err_physics
    assert model.bias_ratio_ == pytest.approx(0.75, abs=0.08)
    gbm = SolarForecaster(kwp=4.0, lat=LAT, lon=LON, correction="gbm", learn_system=False).fit(
        wx.loc[train], observed.loc[train]).predict(wx.loc[test])
    assert np.sqrt(((gbm - observed.loc[test]) ** 2).mean()) < err_physics
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_series_equal(restored.predict(wx.loc[test]), pred)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "model_")


def test_unfitted_and_bad_specs() -> None:
    with pytest.raises(NotFittedError):
        SolarForecaster().predict(pd.DataFrame())
    for spec in ({"kwp": 0}, {"tilt": 100}, {"lat": 95}, {"kwp": float("nan")}):
        with pytest.raises(InvalidInput) as err:
            PVSystem(**{"kwp": 1.0, "lat": LAT, "lon": LON, **spec})
        assert err.value.field == next(iter(spec))


def test_bad_weather_and_production(weather: pd.DataFrame) -> None:
    wx = weather.loc["2021-06-01":"2021-06-10"]
    prod = physical_production(wx, PVSystem(kwp=1, lat=LAT, lon=LON))
    model = SolarForecaster(kwp=1, lat=LAT, lon=LON)
    with pytest.raises(InvalidInput, match="zone-aware"):
        model.fit(wx.tz_localize(None), prod)
    with pytest.raises(InvalidInput, match="'ghi'"):
        model.fit(wx.drop(columns="ghi"), prod)
    bad = wx.copy()
    bad.iloc[30, 0] = -5.0
    with pytest.raises(InvalidInput, match="ghi") as err:
        model.fit(bad, prod)
    assert err.value.row == wx.index[30]
    neg = prod.copy()
    neg.iloc[12] = -1.0
    with pytest.raises(InvalidInput, match="finite number >= 0") as err:
        model.fit(wx, neg)
    assert err.value.row == prod.index[12]
    with pytest.raises(InvalidInput, match="share no timestamps"):
        model.fit(wx, prod.shift(1, freq="365D"))
    short = SolarForecaster(kwp=1, lat=LAT, lon=LON, min_samples=1000).fit(wx, prod)
    assert short.model_ is None and "the correction needs 1000" in short.note_
    with pytest.raises(InvalidInput, match="correction"):
        SolarForecaster(kwp=1, lat=LAT, lon=LON, correction="mlp").fit(wx, prod)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="duplicate"):
        model.fit(pd.concat([wx.iloc[:3], wx.iloc[2:]]), prod)
    for name, value in (("min_days", 0), ("folds", 1.5), ("max_ratio", -1), ("level", (120,))):
        with pytest.raises(InvalidInput) as err:
            SolarForecaster(kwp=1, lat=LAT, lon=LON, **{name: value}).fit(wx, prod)
        assert err.value.field == name
    with pytest.raises(InvalidInput, match="label"):
        SolarForecaster(kwp=1, lat=LAT, lon=LON, label="middle").fit(wx, prod)  # type: ignore[arg-type]


def test_cloud_cover_is_used_when_given(weather: pd.DataFrame) -> None:
    wx = weather.loc["2021-05-01":"2021-05-20"].copy()
    wx["cloud_cover"] = np.clip(100 - wx["ghi"] / 10, 0, 100)
    prod = physical_production(wx, PVSystem(kwp=1, lat=LAT, lon=LON)) * 0.9
    model = SolarForecaster(kwp=1, lat=LAT, lon=LON).fit(wx, prod)
    assert model.cloud_ and model.predict(wx).shape == (len(wx),)
    with pytest.raises(InvalidInput, match="cloud_cover"):
        model.predict(wx.drop(columns="cloud_cover"))


def test_fleet_production_per_meter(weather: pd.DataFrame) -> None:
    wx = weather.loc["2021-06-01":"2021-06-03"]
    meters = pd.DataFrame({"meter_id": ["a", "b", "c"], "pv_kwp": [2.0, 4.0, 0.0],
                           "lat": LAT, "lon": LON, "tilt": [30.0, 30.0, np.nan]})
    fleet = fleet_production(meters, wx)
    assert list(fleet.columns) == ["a", "b", "c"] and (fleet["c"] == 0).all()
    np.testing.assert_allclose(fleet["b"], 2 * fleet["a"])
    with pytest.raises(InvalidInput, match="pv_kwp"):
        fleet_production(meters.drop(columns="pv_kwp"), wx)
    with pytest.raises(InvalidInput, match="meter 'b'") as err:
        fleet_production(meters.assign(lat=[LAT, 120.0, LAT]), wx)
    assert err.value.row == 1 and err.value.field == "lat"

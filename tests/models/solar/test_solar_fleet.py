"""A fleet of prosumers: one learned system per meter, the zone as their sum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import pytest

from models.errors import InvalidInput
from models.solar import PVSystem, physical_production
from models.solar.fleet import PVMeter, forecast_fleet

TMY = Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"   # Greensboro, NC
LAT, LON = 36.1, -79.95


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    data, _ = pvlib.iotools.read_tmy3(TMY, coerce_year=2021)
    wx = data[["ghi", "dni", "dhi", "temp_air", "wind_speed"]].tz_convert("UTC")
    return wx.loc["2021-05-01":"2021-06-02"]


def meter(weather: pd.DataFrame, meter_id: str, kwp: float, tilt: float, azimuth: float,
          days: int = 30, seed: int = 0) -> PVMeter:
    truth = PVSystem(kwp=kwp, lat=LAT, lon=LON, tilt=tilt, azimuth=azimuth)
    rng = np.random.default_rng(seed)
    produced = physical_production(weather, truth) * (1 + rng.normal(0, 0.02, len(weather)))
    cut = weather.index[0] + pd.Timedelta(days=days)
    past, future = weather.loc[weather.index < cut], weather.loc[weather.index >= cut]
    future = future.iloc[:24]
    return PVMeter(meter_id, kwp=4.0, lat=LAT, lon=LON, production=produced.loc[past.index],
                   weather=past, future=future)


def test_each_meter_learns_its_own_system_and_the_zone_is_the_sum(weather: pd.DataFrame) -> None:
    east = meter(weather, "m-east", 5.0, 20.0, 110.0)
    south = meter(weather, "m-south", 3.0, 30.0, 180.0, seed=1)
    fleet = forecast_fleet([east, south])
    assert fleet.learned == {"m-east": True, "m-south": True}
    assert all("learned from" in note for note in fleet.notes.values())
    total = fleet.meters["m-east"] + fleet.meters["m-south"]
    pd.testing.assert_frame_equal(fleet.zone, total)
    night = fleet.zone["mean"] == 0
    assert night.any() and (fleet.zone.loc[night] == 0).all().all()  # exactly zero at night
    assert (fleet.zone["lo_95"] <= fleet.zone["mean"]).all()
    assert (fleet.zone["mean"] <= fleet.zone["hi_95"]).all()
    # The east array peaks before the south one: each meter got its own orientation.
    assert fleet.meters["m-east"]["mean"].idxmax() < fleet.meters["m-south"]["mean"].idxmax()


def test_a_short_history_meter_is_forecast_from_its_stated_specs(weather: pd.DataFrame) -> None:
    short = meter(weather, "m-new", 4.0, 30.0, 180.0, days=5)
    fleet = forecast_fleet([short])
    assert fleet.learned == {"m-new": False}
    assert "stated specs" in fleet.notes["m-new"]
    assert fleet.zone["mean"].max() > 0


def test_bad_meters_are_named(weather: pd.DataFrame) -> None:
    good = meter(weather, "m-1", 4.0, 30.0, 180.0)
    with pytest.raises(InvalidInput, match="m-1 is given twice"):
        forecast_fleet([good, good])
    zero = PVMeter("m-0", 0.0, LAT, LON, good.production, good.weather, good.future)
    with pytest.raises(InvalidInput, match="m-0: pv_kwp must be > 0") as caught:
        forecast_fleet([zero])
    assert caught.value.row == "m-0"
    broken = good.weather.copy()
    broken.iloc[40, broken.columns.get_loc("ghi")] = -5.0
    bad = PVMeter("m-2", 4.0, LAT, LON, good.production, broken, good.future)
    with pytest.raises(InvalidInput, match="m-2: weather ghi") as caught:
        forecast_fleet([bad])
    assert caught.value.field == "ghi"

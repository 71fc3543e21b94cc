"""Per-meter forecasts from one global model; the zone is the sum of its meters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.forecasting.meters import (
    check_readings,
    forecast_meters,
    reconcile_to_meters,
    reconcile_to_zone,
)

FAST = {"max_iter": 40, "learning_rate": 0.2, "country": None}


def readings(meters: int = 6, days: int = 12, seed: int = 0) -> pd.DataFrame:
    """Hourly household loads: a shared daily shape, own levels, own noise (meter m3 noisiest)."""
    index = pd.date_range("2024-04-01", periods=24 * days, freq="1h", name="ts")
    rng = np.random.default_rng(seed)
    shape = 1 + 0.5 * np.sin(2 * np.pi * (index.hour - 7) / 24)
    out = {}
    for m in range(meters):
        noise = 0.6 if m == 3 else 0.1
        out[f"m{m}"] = rng.uniform(0.3, 1.5) * shape * rng.lognormal(0, noise, len(index))
    return pd.DataFrame(out, index=index)


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return forecast_meters(readings(), 24, params=FAST)


def test_every_meter_gets_a_day_with_ordered_intervals(result) -> None:  # type: ignore[no-untyped-def]
    meters = result.meters
    assert list(meters.columns) == ["meter_id", "ts", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert meters.groupby("meter_id").size().to_dict() == {f"m{m}": 24 for m in range(6)}
    assert meters["ts"].min() == pd.Timestamp("2024-04-13 00:00")
    assert (meters["lo_95"] <= meters["lo_80"]).all() and (meters["hi_80"] <= meters["hi_95"]).all()
    assert (meters["lo_80"] < meters["mean"]).all() and (meters["mean"] < meters["hi_80"]).all()


def test_intervals_are_per_meter(result) -> None:  # type: ignore[no-untyped-def]
    width = (result.meters["hi_95"] - result.meters["lo_95"]).groupby(result.meters["meter_id"])
    mean = result.meters.groupby("meter_id")["mean"].mean()
    relative = width.mean() / mean
    assert relative.idxmax() == "m3"  # the noisiest meter has the widest intervals
    assert relative["m3"] > 2 * relative.drop("m3").max()


def test_zone_is_the_sum_of_its_meters(result) -> None:  # type: ignore[no-untyped-def]
    total = result.meters.groupby("ts")["mean"].sum()
    np.testing.assert_allclose(result.zone["mean"].to_numpy(), total.to_numpy())
    assert (result.zone["lo_95"] < result.zone["mean"]).all()
    assert set(result.backtest) == {"origins", "meter_mae", "zone_mae"}


def test_global_model_beats_each_meters_naive_on_noisy_loads() -> None:
    data = readings(days=13, seed=4)
    train, test = data.iloc[:-24], data.iloc[-24:]
    got = forecast_meters(train, 24, params=FAST, n_windows=1).meters
    pred = got.pivot(index="ts", columns="meter_id", values="mean")[data.columns].to_numpy()
    naive = train.iloc[-24:].to_numpy()
    assert np.abs(pred - test.to_numpy()).mean() < 0.8 * np.abs(naive - test.to_numpy()).mean()


def test_reconciliation_both_ways(result) -> None:  # type: ignore[no-untyped-def]
    zone = result.zone.copy()
    zone[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]] += 3.0  # a zone model that disagrees
    bottom_up = reconcile_to_meters(zone, result.meters)
    np.testing.assert_allclose(bottom_up["mean"], result.zone["mean"])
    np.testing.assert_allclose(bottom_up["hi_95"] - bottom_up["lo_95"], zone["hi_95"] - zone["lo_95"])
    top_down = reconcile_to_zone(result.meters, zone)
    np.testing.assert_allclose(top_down.groupby("ts")["mean"].sum().to_numpy(), zone["mean"])
    with pytest.raises(InvalidInput, match="no meter forecasts for"):
        reconcile_to_meters(zone.shift(freq="1D"), result.meters)


def test_bad_readings_name_meter_and_time() -> None:
    data = readings()
    data.iloc[30, 2] = np.nan
    with pytest.raises(InvalidInput, match="meter 'm2' has no valid reading at 2024-04-02 06:00"):
        check_readings(data)
    with pytest.raises(InvalidInput, match="regular DatetimeIndex"):
        check_readings(readings().reset_index(drop=True))
    with pytest.raises(InvalidInput, match="too few"):
        forecast_meters(readings(days=3), 24, params=FAST)

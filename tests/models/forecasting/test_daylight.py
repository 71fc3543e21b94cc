"""Daylight-aware daily profiles: the site, the sun, the drift adjustment and the models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.forecasting import Forecaster
from models.forecasting.catalog import make_model
from models.forecasting.daylight import (
    Site,
    as_site,
    drift_adjustment,
    endpoint_lag,
    solar_elevation,
    twilight_mask,
)

LONDON = Site(51.5, -0.13, "Europe/London")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"latitude": 91.0, "longitude": 0.0}, "latitude"),
    ({"latitude": "north", "longitude": 0.0}, "latitude"),
    ({"latitude": 50.0, "longitude": -181.0}, "longitude"),
    ({"latitude": 50.0, "longitude": 0.0, "timezone": "Mars/Olympus"}, "timezone"),
])
def test_bad_site_names_its_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Site(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_as_site_takes_tuples_and_refuses_other_things() -> None:
    assert as_site((51.5, -0.13, "Europe/London")) == LONDON
    assert as_site(None) is None
    with pytest.raises(InvalidInput) as err:
        as_site("London")
    assert err.value.field == "site"


def test_sun_is_high_at_midsummer_noon_and_below_the_horizon_at_midnight() -> None:
    index = pd.date_range("2000-06-21 00:00", periods=48, freq="30min")
    elevation = solar_elevation(index, LONDON)
    # the step 13:00-13:30 BST holds solar noon in London: 90 - 51.5 + 23.44 = 61.9 degrees
    assert elevation[26] == pytest.approx(61.9, abs=0.5)
    assert elevation[0] < -10
    mask = twilight_mask(index, LONDON)
    assert not mask[0] and not mask[26]
    # sunset in London on 21 June 2000 is at 21:21 BST: its step and the next are twilight
    assert mask[42] and mask[43]


def test_timezone_aware_index_is_used_as_it_is() -> None:
    naive = pd.date_range("2000-08-15 00:00", periods=48, freq="30min")
    aware = naive.tz_localize("Europe/London")
    np.testing.assert_allclose(solar_elevation(aware, LONDON), solar_elevation(naive, LONDON))
    utc = Site(51.5, -0.13)  # naive times read as UTC: an hour later than clock time in August
    assert solar_elevation(naive, utc)[20] == pytest.approx(
        solar_elevation(naive, LONDON)[22], abs=1e-6)


def test_the_repeated_autumn_hour_is_not_twilight_and_nothing_breaks() -> None:
    index = pd.date_range("2000-10-29 00:00", periods=48, freq="30min")  # clocks go back at 2:00
    elevation = solar_elevation(index, LONDON)
    assert np.isnan(elevation[2:4]).all()  # 01:00-01:59 happens twice: ambiguous
    assert not twilight_mask(index, LONDON)[2:4].any()


def test_elevation_needs_a_regular_index() -> None:
    index = pd.DatetimeIndex(["2000-08-15 00:00", "2000-08-15 01:00", "2000-08-15 03:00"])
    with pytest.raises(InvalidInput) as err:
        solar_elevation(index, LONDON)
    assert err.value.field == "index"


def test_endpoint_lag_of_the_default_daily_window() -> None:
    assert endpoint_lag(11) == pytest.approx(2.916, abs=1e-3)
    assert endpoint_lag(7) < endpoint_lag(11) < endpoint_lag(21)
    assert endpoint_lag(1) == 0.0


def test_drift_adjustment_extrapolates_only_masked_steps() -> None:
    period, span, days = 4, 7, 10
    slope = np.array([0.0, 0.5, -1.0, 2.0])
    seasonal = np.concatenate([slope * d for d in range(days)])
    mask = np.array([True, True, False, True, True, True, True, False])
    out = drift_adjustment(seasonal, period, 11, 8, mask, span=span)
    lag = endpoint_lag(11)
    expected = np.concatenate([slope * (lag + 1), slope * (lag + 2)]) * mask
    np.testing.assert_allclose(out, expected)


def test_drift_adjustment_with_short_history_or_bad_mask() -> None:
    seasonal = np.arange(4 * 5, dtype=float)
    np.testing.assert_array_equal(
        drift_adjustment(seasonal, 4, 11, 4, np.ones(4, bool), span=7), np.zeros(4))
    with pytest.raises(InvalidInput) as err:
        drift_adjustment(seasonal, 4, 11, 4, np.ones(3, bool))
    assert err.value.field == "mask"


def lighting_demand(days: int = 42, seed: int = 0) -> pd.Series:
    """Half-hourly demand whose evening lighting load follows the real sunset in London from
    1 July 2000 (synthetic: a fixed profile plus a load that switches on as the sun sets)."""
    index = pd.date_range("2000-07-01", periods=48 * days, freq="30min")
    hours = index.hour + index.minute / 60
    dark = 1 / (1 + np.exp(solar_elevation(index, LONDON) / 2))
    rng = np.random.default_rng(seed)
    values = (1000 + 150 * np.sin(2 * np.pi * (hours - 9) / 24) + 300 * dark
              + rng.normal(0, 5, len(index)))
    return pd.Series(values, index=index)


@pytest.mark.parametrize("name", ["ets", "mstl_ar"])
def test_daylight_variant_follows_the_earlier_sunset(name: str) -> None:
    y = lighting_demand()
    train, test = y.iloc[:-48], y.iloc[-48:].to_numpy()
    plain = make_model(name).fit(train).predict(48)
    aware = make_model(f"{name}_daylight", site=LONDON).fit(train).predict(48)
    twilight = twilight_mask(y.index[-48:], LONDON)
    assert twilight.sum() >= 6
    plain_err = np.abs(plain - test)[twilight].mean()
    aware_err = np.abs(aware - test)[twilight].mean()
    assert aware_err < 0.75 * plain_err  # measured: 0.60 (ets), 0.62 (mstl_ar)
    # outside twilight the two forecasts are the same
    np.testing.assert_allclose(aware[~twilight], plain[~twilight])


def test_daylight_model_needs_a_site() -> None:
    with pytest.raises(InvalidInput) as err:
        make_model("ets_daylight")
    assert err.value.field == "site"
    with pytest.raises(InvalidInput) as err:
        make_model("mstl_ar_daylight", site=(95.0, 0.0, "UTC")).fit(lighting_demand(days=8))
    assert err.value.field == "latitude"


def test_forecaster_with_a_site_adds_the_daylight_candidates() -> None:
    y = lighting_demand(days=21)
    fitted = Forecaster(model="auto", site=(51.5, -0.13, "Europe/London"), n_windows=2,
                        candidates=None).fit(y)
    assert {"ets_daylight", "mstl_ar_daylight"} <= set(fitted.backtest_)
    plain = Forecaster(model="auto", n_windows=2).fit(y)
    assert not {"ets_daylight", "mstl_ar_daylight"} & set(plain.backtest_)
    restored = Forecaster.loads(fitted.dumps())
    pd.testing.assert_frame_equal(restored.predict(48), fitted.predict(48))


def test_forecaster_single_daylight_model_gets_the_site() -> None:
    y = lighting_demand(days=21)
    fitted = Forecaster(model="ets_daylight", site=LONDON, n_windows=2).fit(y)
    assert fitted.model_.site_ == LONDON
    with pytest.raises(InvalidInput) as err:
        Forecaster(model="ets_daylight", n_windows=2).fit(y)
    assert err.value.field == "site"
    with pytest.raises(InvalidInput) as err:
        Forecaster(site="London").fit(y)
    assert err.value.field == "site"

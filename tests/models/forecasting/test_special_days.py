"""Public holidays: forecast like Sundays, cleaned out of the history, read on the site clock."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.forecasting import Forecaster
from models.forecasting.catalog import make_model
from models.forecasting.daylight import Site
from models.forecasting.special_days import (
    HolidayAdjusted,
    cleaned_history,
    holiday_mask,
    parse_calendar,
)

# England's early-May and spring bank holidays of 2024 are Mondays: 6 and 27 May
HOLIDAYS = (pd.Timestamp("2024-05-06"), pd.Timestamp("2024-05-27"))


def office_demand(start: str, days: int, holidays: tuple[pd.Timestamp, ...] = HOLIDAYS,
                  seed: int = 5) -> pd.Series:
    """Hourly demand: a working-day shape on weekdays, a lower flat one on weekends and on the
    given holidays."""
    index = pd.date_range(start, periods=24 * days, freq="h", name="ts")
    hours = index.hour.to_numpy()
    working = 100 + 40 * np.exp(-((hours - 13) / 4.0) ** 2)
    resting = 60 + 8 * np.exp(-((hours - 18) / 3.0) ** 2)
    off = (index.dayofweek >= 5) | index.normalize().isin(holidays)
    noise = np.random.default_rng(seed).normal(0, 0.5, len(index))
    y = pd.Series(np.where(off, resting, working) + noise, index=index)
    y.index.freq = "h"
    return y


def test_calendars_are_parsed_and_unknown_ones_refused_naming_the_field() -> None:
    assert parse_calendar("gb-eng") == ("GB", "ENG")
    assert parse_calendar("US") == ("US", None)
    for bad in ("XX", "AU-NOPE", "", 7):
        with pytest.raises(InvalidInput) as err:
            parse_calendar(bad)  # type: ignore[arg-type]
        assert err.value.field == "holidays"
    with pytest.raises(InvalidInput, match="holidays"):
        Site(52.5, -1.5, "Europe/London", holidays="ZZ")


def test_holidays_are_read_on_the_site_clock() -> None:
    # Victoria's Labour Day, 10 March 2014, starts at 14:00 UTC the day before (UTC+10)
    aware = pd.date_range("2014-03-09 13:00", periods=4, freq="h", tz="UTC")
    assert holiday_mask(aware, "AU-VIC", "Australia/Brisbane").tolist() == [False, True, True,
                                                                            True]
    naive = pd.date_range("2014-03-09 23:00", periods=2, freq="h")
    assert holiday_mask(naive, "AU-VIC", "Australia/Brisbane").tolist() == [False, True]
    assert not holiday_mask(naive, "GB-ENG").any()


def test_a_holiday_in_the_history_is_replaced_by_the_same_weekday_a_week_before() -> None:
    day = 2
    values = np.arange(28.0)  # two weeks of two steps a day
    holiday = np.zeros(28, dtype=bool)
    holiday[14:16] = True  # day 7: one week after day 0
    holiday[26:28] = True  # day 13: its week-before (day 6) is fine
    out = cleaned_history(values, holiday, day)
    assert out[14:16].tolist() == [0.0, 1.0] and out[26:28].tolist() == [12.0, 13.0]
    assert (out[~holiday] == values[~holiday]).all()
    both = np.zeros(42, dtype=bool)
    both[14:16] = both[28:30] = True  # day 14's week-before is a holiday too: two weeks back
    assert cleaned_history(np.arange(42.0), both, day)[28:30].tolist() == [0.0, 1.0]


def test_a_holiday_monday_is_forecast_with_a_sundays_shape() -> None:
    y = office_demand("2024-04-08", 28)  # four weeks, the next day is Monday 6 May
    truth = office_demand("2024-04-08", 29).iloc[-24:].to_numpy()
    raw = make_model("seasonal_naive", season="week").fit(y).predict(24)
    told = HolidayAdjusted(make_model("seasonal_naive", season="week"),
                           holidays="GB-ENG").fit(y).predict(24)
    raw_mae, told_mae = np.abs(raw - truth).mean(), np.abs(told - truth).mean()
    assert raw_mae > 20 and told_mae < 2, (raw_mae, told_mae)


def test_the_week_after_a_holiday_is_not_forecast_as_a_holiday() -> None:
    y = office_demand("2024-04-08", 35)  # through Sunday 12 May, holiday Monday 6 May inside
    truth = office_demand("2024-04-08", 36).iloc[-24:].to_numpy()  # a normal Monday
    raw = make_model("seasonal_naive", season="week").fit(y).predict(24)
    told = HolidayAdjusted(make_model("seasonal_naive", season="week"), holidays="GB-ENG")
    fitted = told.fit(y)
    assert fitted.holidays_in_history_ == 24
    raw_mae = np.abs(raw - truth).mean()
    told_mae = np.abs(fitted.predict(24) - truth).mean()
    assert raw_mae > 20 and told_mae < 2, (raw_mae, told_mae)


def test_without_holidays_near_the_forecast_is_the_models_own() -> None:
    y = office_demand("2024-06-03", 28, holidays=())  # June 2024 has no English holiday
    raw = make_model("seasonal_naive", season="day").fit(y).predict(30)
    told = HolidayAdjusted(make_model("seasonal_naive", season="day"),
                           holidays="GB-ENG").fit(y).predict(30)
    np.testing.assert_array_equal(raw, told)


def test_a_forecaster_with_a_calendar_forecasts_the_holiday_and_survives_saving() -> None:
    y = office_demand("2024-04-08", 28)
    truth = office_demand("2024-04-08", 29).iloc[-24:].to_numpy()
    site = Site(52.5, -1.5, "UTC", holidays="GB-ENG")
    told = Forecaster(model="auto", n_windows=4, site=site,
                      candidates=["ets"]).fit(y)
    blind = Forecaster(model="auto", n_windows=4, site=Site(52.5, -1.5, "UTC"),
                       candidates=["ets"]).fit(y)
    assert isinstance(told.model_, HolidayAdjusted)
    told_mae = np.abs(told.predict(24)["mean"].to_numpy() - truth).mean()
    blind_mae = np.abs(blind.predict(24)["mean"].to_numpy() - truth).mean()
    assert told_mae < blind_mae / 4, (told_mae, blind_mae)
    again = Forecaster.loads(told.dumps())
    np.testing.assert_allclose(again.predict(24)["mean"], told.predict(24)["mean"])

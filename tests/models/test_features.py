"""Feature pipeline: values, configuration, bad input, and no look-ahead on every column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.features import (
    FeatureConfig,
    build_features,
    calendar_features,
    join_weather,
    lag_features,
    rolling_features,
)


def _series(n: int = 400, freq: str = "h", seed: int = 0) -> pd.Series:
    idx = pd.date_range("2024-12-20", periods=n, freq=freq, tz="UTC")
    rng = np.random.default_rng(seed)
    return pd.Series(rng.normal(10, 3, n), index=idx, name="load")


def _weather(y: pd.Series, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = y.index[::3] + pd.Timedelta("20min")
    return pd.DataFrame({"temp": rng.normal(8, 4, len(idx)), "ghi": rng.uniform(0, 500, len(idx))},
                        index=idx)


def test_default_columns_follow_the_seed_pipeline() -> None:
    f = build_features(_series(), weather=_weather(_series()))
    for name in ["lag_1", "lag_2", "lag_3", "lag_6", "lag_12", "lag_24", "diff_1", "diff_24",
                 "diff_168", "hour", "dayofweek", "month", "season", "weekend", "holiday",
                 "hour_sin", "hour_cos", "wx_temp", "wx_ghi"]:
        assert name in f.columns
    assert {f"roll_{s}_{w}" for s in ("mean", "std", "min", "max") for w in (3, 6, 12, 24)} \
        <= set(f.columns)


def test_lags_rolling_and_differences_use_only_earlier_values() -> None:
    y = pd.Series(np.arange(200.0), pd.date_range("2024-01-01", periods=200, freq="h"))
    f = build_features(y)
    row = f.loc[y.index[180]]
    assert row["lag_1"] == 179 and row["lag_24"] == 156
    assert row["roll_mean_3"] == pytest.approx((177 + 178 + 179) / 3)
    assert row["roll_max_24"] == 179 and row["roll_min_24"] == 156
    assert row["diff_1"] == 1 and row["diff_168"] == 168


def test_missing_timestamps_are_missing_values_not_skipped_steps() -> None:
    y = pd.Series(np.arange(50.0), pd.date_range("2024-01-01", periods=50, freq="h"))
    f = lag_features(y.drop(y.index[10]), lags=[1, 2])
    assert np.isnan(f.loc[y.index[11], "lag_1"])
    assert f.loc[y.index[11], "lag_2"] == 9


def test_calendar_season_weekend_and_holidays() -> None:
    idx = pd.DatetimeIndex(["2024-12-25 10:00", "2024-07-06 10:00", "2024-04-02 10:00"], tz="UTC")
    gb = calendar_features(idx)
    assert gb["holiday"].tolist() == [1, 0, 0]
    assert gb["season"].tolist() == [0, 2, 1]
    assert gb["weekend"].tolist() == [0, 1, 0]
    us = calendar_features(pd.DatetimeIndex(["2024-07-04"]), country="US")
    assert us["holiday"].tolist() == [1]
    assert "holiday" not in calendar_features(idx, country=None).columns
    np.testing.assert_allclose(gb["hour_sin"] ** 2 + gb["hour_cos"] ** 2, 1.0)


def test_local_time_zone_shifts_hour() -> None:
    idx = pd.DatetimeIndex(["2024-07-01 12:00"], tz="UTC")
    assert calendar_features(idx, tz="Europe/London")["hour"].iloc[0] == 13


def test_configuration_selects_features() -> None:
    cfg = FeatureConfig(lags=(1, 48), windows=(4,), stats=("mean",), diffs=(), calendar=False,
                        cyclical=True, country=None)
    f = build_features(_series(), config=cfg)
    assert list(f.columns[:3]) == ["lag_1", "lag_48", "roll_mean_4"]
    assert "hour" not in f.columns and "hour_sin" in f.columns and "diff_1" not in f.columns


def test_weather_as_of_join_never_uses_a_later_row() -> None:
    idx = pd.date_range("2024-01-01", periods=6, freq="h")
    wx = pd.DataFrame({"t": [1.0, 2.0, 3.0]}, index=idx[[0, 2, 4]] + pd.Timedelta("1min"))
    joined = join_weather(idx, wx)
    assert np.isnan(joined["wx_t"].iloc[0])
    assert joined["wx_t"].tolist()[1:] == [1.0, 1.0, 2.0, 2.0, 3.0]


@pytest.mark.parametrize("freq", ["h", "30min"])
def test_no_feature_uses_data_after_t(freq: str) -> None:
    """Perturb target and weather strictly after t: every feature at <= t must be unchanged."""
    y = _series(500, freq)
    wx = _weather(y)
    base = build_features(y, weather=wx)
    rng = np.random.default_rng(7)
    for cut in (200, 333, 480):
        t = y.index[cut]
        y2 = y.copy()
        y2[y2.index > t] = rng.normal(1000, 500, int((y2.index > t).sum()))
        wx2 = wx.copy()
        wx2.loc[wx2.index > t] = rng.normal(-500, 100, wx2.loc[wx2.index > t].shape)
        pert = build_features(y2, weather=wx2)
        for col in base.columns:
            pd.testing.assert_series_equal(base.loc[:t, col], pert.loc[:t, col], obj=col)
        # and the target at t itself is never used by a target-derived feature
        y3 = y.copy()
        y3[t] = 1e6
        own = build_features(y3, weather=wx)
        target_cols = [c for c in base.columns if c.startswith(("lag_", "roll_", "diff_"))]
        pd.testing.assert_frame_equal(base.loc[[t], target_cols], own.loc[[t], target_cols])


def test_perturbation_test_would_catch_a_leaky_feature() -> None:
    y = _series(100)
    leaky = y.rolling(3, center=True).mean()
    y2 = y.copy()
    y2.iloc[51:] += 100
    assert leaky.iloc[50] != y2.rolling(3, center=True).mean().iloc[50]
    assert rolling_features(y, [3], ["mean"]).iloc[50, 0] == \
        rolling_features(y2, [3], ["mean"]).iloc[50, 0]


def test_bad_index_is_rejected_with_row() -> None:
    y = _series(30)
    with pytest.raises(InvalidInput, match="DatetimeIndex"):
        build_features(y.reset_index(drop=True))
    shuffled = y.iloc[[0, 2, 1, *range(3, 30)]]
    with pytest.raises(InvalidInput, match="not increasing") as err:
        build_features(shuffled)
    assert err.value.row == 2
    dup = pd.concat([y.iloc[:5], y.iloc[4:]])
    with pytest.raises(InvalidInput, match="duplicate") as err:
        build_features(dup)
    assert err.value.row == 5


def test_bad_values_and_arguments_are_rejected() -> None:
    y = _series(30)
    with pytest.raises(InvalidInput, match="target column 'demand'"):
        build_features(y.to_frame(), target="demand")
    pd.testing.assert_frame_equal(build_features(y.to_frame(), target="load"), build_features(y))
    with pytest.raises(InvalidInput, match="numeric"):
        build_features(y.astype(str))
    bad = y.copy()
    bad.iloc[4] = np.inf
    with pytest.raises(InvalidInput, match="infinite") as err:
        build_features(bad)
    assert err.value.row == y.index[4]
    with pytest.raises(InvalidInput, match="lags"):
        build_features(y, config=FeatureConfig(lags=(0, 1)))
    with pytest.raises(InvalidInput, match="statistic"):
        build_features(y, config=FeatureConfig(stats=("median",)))
    with pytest.raises(InvalidInput, match="missing column 'wind'"):
        build_features(y, weather=_weather(y), config=FeatureConfig(weather_columns=["wind"]))
    with pytest.raises(InvalidInput, match="holiday country"):
        calendar_features(y.index, country="XX")
    with pytest.raises(InvalidInput, match="zone-aware"):
        join_weather(y.index, _weather(y).tz_localize(None))
    irregular = y.iloc[[0, 1, 3]].copy()
    irregular.index = irregular.index + pd.to_timedelta([0, 0, 1], unit="min")
    with pytest.raises(InvalidInput, match="regular frequency"):
        build_features(irregular)

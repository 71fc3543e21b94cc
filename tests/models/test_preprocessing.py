"""Gap filling, MAD outlier handling and scaling: values, sklearn conventions, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from models.errors import InvalidInput, NotFittedError
from models.preprocessing import OutlierClipper, Scaler, fill_gaps


def _hourly(values: list[float]) -> pd.Series:
    return pd.Series(values, pd.date_range("2024-01-01", periods=len(values), freq="h"), name="y")


def test_short_gaps_interpolated_long_gaps_reported() -> None:
    y = _hourly([float(i) for i in range(20)])
    y.iloc[3] = np.nan                      # short gap of 1 step (value NaN)
    y = y.drop(y.index[[6, 7]])             # short gap of 2 steps (missing timestamps)
    y = y.drop(y.index[10:15])              # long gap of 5 steps
    res = fill_gaps(y, max_gap=3)
    assert len(res.data) == 20 and res.data.index.freq == pd.Timedelta("1h")
    assert res.data.iloc[3] == 3 and res.data.iloc[6] == 6 and res.data.iloc[7] == 7
    assert res.data.iloc[12:17].isna().all() and res.filled == 3
    gap = res.long_gaps.iloc[0]
    assert (gap["start"], gap["steps"]) == (pd.Timestamp("2024-01-01 12:00"), 5)


def test_edge_gaps_are_reported_not_extrapolated() -> None:
    y = _hourly([np.nan, 1.0, 2.0, np.nan])
    res = fill_gaps(y, max_gap=3)
    assert res.data.isna().sum() == 2 and len(res.long_gaps) == 2


def test_frame_gaps_per_column() -> None:
    f = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, np.nan, np.nan, 4.0]},
                     index=pd.date_range("2024-01-01", periods=4, freq="30min"))
    res = fill_gaps(f, max_gap=1)
    assert res.data["a"].tolist() == [1, 2, 3, 4]
    assert res.data["b"].isna().sum() == 2 and res.long_gaps["column"].tolist() == ["b"]


def test_fill_gaps_bad_input() -> None:
    y = _hourly([1.0, 2.0, 3.0])
    with pytest.raises(InvalidInput, match="off the"):
        fill_gaps(y, freq="2h")
    with pytest.raises(InvalidInput, match="max_gap"):
        fill_gaps(y, max_gap=-1)
    with pytest.raises(InvalidInput, match="DatetimeIndex"):
        fill_gaps(y.reset_index(drop=True))
    with pytest.raises(InvalidInput, match="Series or DataFrame"):
        fill_gaps([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="numeric") as err:
        fill_gaps(y.astype(str).to_frame())
    assert err.value.field == "y"
    with pytest.raises(InvalidInput, match="empty"):
        fill_gaps(y.iloc[:0])


def test_outliers_clipped_nan_or_flagged() -> None:
    rng = np.random.default_rng(0)
    y = _hourly(list(rng.normal(10, 1, 200)))
    y.iloc[50] = 100.0
    y.iloc[60] = -80.0
    clip = OutlierClipper(threshold=5).fit(y)
    out = clip.transform(y)
    assert out.iloc[50] == pytest.approx(clip.upper_.iloc[0]) and out.iloc[50] < 20
    assert out.iloc[60] > 0
    assert (out.drop(y.index[[50, 60]]) == y.drop(y.index[[50, 60]])).all()
    flags = OutlierClipper(action="flag").fit_transform(y)
    assert flags.sum() == 2 and flags.iloc[50]
    assert OutlierClipper(action="nan").fit_transform(y).isna().sum() == 2


def test_outlier_bad_arguments_and_unfitted() -> None:
    y = _hourly([1.0, 2.0, 3.0])
    with pytest.raises(NotFittedError):
        OutlierClipper().transform(y)
    with pytest.raises(InvalidInput, match="threshold"):
        OutlierClipper(threshold=0).fit(y)
    with pytest.raises(InvalidInput, match="action"):
        OutlierClipper(action="drop").fit(y)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["standard", "minmax", "robust"])
def test_scaler_round_trip_and_constant_column(method: str) -> None:
    f = pd.DataFrame({"a": np.arange(10.0), "b": np.full(10, 3.0)},
                     index=pd.date_range("2024-01-01", periods=10, freq="h"))
    sc = Scaler(method).fit(f)
    z = sc.transform(f)
    assert (z["b"] == 0).all() and list(z.columns) == ["a", "b"]
    pd.testing.assert_frame_equal(sc.inverse_transform(z), f)
    if method == "minmax":
        assert z["a"].min() == 0 and z["a"].max() == 1
    restored = pickle.loads(pickle.dumps(sc))
    pd.testing.assert_frame_equal(restored.transform(f), z)
    assert clone(sc).get_params() == {"method": method}


def test_scaler_series_and_bad_input() -> None:
    y = _hourly([1.0, 2.0, 3.0])
    sc = Scaler().fit(y)
    assert sc.transform(y).name == "y"
    with pytest.raises(NotFittedError):
        Scaler().transform(y)
    with pytest.raises(InvalidInput, match="method"):
        Scaler("log").fit(y)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="missing column 'a'"):
        Scaler().fit(pd.DataFrame({"a": [1.0, 2.0]})).transform(pd.DataFrame({"b": [1.0]}))
    with pytest.raises(InvalidInput, match="numeric"):
        Scaler().fit(pd.DataFrame({"a": ["x", "y"]}))
    with pytest.raises(InvalidInput, match="infinite"):
        Scaler().fit(_hourly([1.0, np.inf]))
    with pytest.raises(InvalidInput, match="no finite"):
        Scaler().fit(_hourly([np.nan, np.nan]))

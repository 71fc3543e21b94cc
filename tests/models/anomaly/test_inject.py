"""The injection protocol: seeded, labelled where it changed the data, never before `since`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pmdarima.datasets import load_taylor

from models.anomaly.inject import TYPE_OF, inject_anomalies, meters_from_load
from models.errors import InvalidInput


@pytest.fixture(scope="module")
def planted(readings: pd.DataFrame, split) -> tuple[pd.DataFrame, pd.DataFrame]:
    return inject_anomalies(split[1], since=split[2], seed=5)


def test_meters_are_seeded_and_shaped(readings: pd.DataFrame) -> None:
    again = meters_from_load(load_taylor(), n_meters=8, weeks=3,
                             irradiance=np.asarray(readings["ghi_wm2"][:3 * 336]),
                             pv_share=0.6, seed=3)
    pd.testing.assert_frame_equal(readings, again)
    assert readings.groupby("meter_id").size().eq(3 * 336).all()
    assert (readings["consumption_kwh"] > 0).all() and (readings["production_kwh"] >= 0).all()


def test_short_load_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="load"):
        meters_from_load(np.ones(100), weeks=2)


def test_every_kind_is_planted_after_since(planted, split) -> None:
    _, labels = planted
    assert set(labels["kind"]) == set(TYPE_OF)
    assert (labels["ts"] >= split[2]).all()
    assert labels["type"].eq(labels["kind"].map(TYPE_OF)).all()


def test_labels_point_at_changed_readings(planted, split) -> None:
    frame, labels = planted
    merged = labels.merge(frame, on=["meter_id", "ts"]).merge(
        split[1], on=["meter_id", "ts"], suffixes=("", "_clean"))
    zero = merged[merged["kind"] == "zeroing"]
    assert (zero["consumption_kwh"] == 0).all()
    spike = merged[merged["kind"] == "spike"]
    assert (spike["consumption_kwh"] >= 2.5 * spike["consumption_kwh_clean"] - 1e-9).all()
    pv = merged[merged["kind"] == "pv_failure"]
    assert (pv["production_kwh"] <= 0.25 * pv["production_kwh_clean"] + 1e-9).all()


def test_injection_is_reproducible(planted, split) -> None:
    frame, labels = inject_anomalies(split[1], since=split[2], seed=5)
    pd.testing.assert_frame_equal(frame, planted[0])
    pd.testing.assert_frame_equal(labels, planted[1])

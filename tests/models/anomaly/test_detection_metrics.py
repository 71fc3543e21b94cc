"""Point-level detection metrics on small hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.errors import InvalidInput
from models.metrics.detection import align, binary_scores, detection_report, event_recall


def _frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"meter_id": "m", "ts": pd.date_range("2024-01-01", periods=n,
                                                              freq="30min", tz="UTC")})


def test_binary_scores_by_hand() -> None:
    s = binary_scores(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 0, 1], bool),
                      np.array([0.9, 0.2, 0.8, 0.1, 0.7]))
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["roc_auc"] == pytest.approx(4 / 6)


def test_report_is_typed_per_class_and_binary_overall() -> None:
    pts = _frame(6)
    labels = pts.iloc[[0, 1, 2]].assign(type=["spike", "spike", "drop"])
    pred = pts.iloc[[0, 2, 3]].assign(type=["spike", "spike", "drop"], score=[0.9, 0.8, 0.7])
    rep = detection_report(align(pts, labels, pred))
    assert rep.loc["spike", ["tp", "fp", "fn"]].tolist() == [1, 1, 1]
    assert rep.loc["drop", ["tp", "fp", "fn"]].tolist() == [0, 1, 1]
    assert rep.loc["overall", ["tp", "fp", "fn"]].tolist() == [2, 1, 1]
    assert rep.loc["macro", "f1"] == pytest.approx(0.25)


def test_align_needs_columns_and_treats_missing_as_normal() -> None:
    pts = _frame(3)
    out = align(pts, pts.iloc[[1]].assign(type="x"), pts.iloc[:0].assign(type=""))
    assert list(out["truth"]) == ["", "x", ""] and list(out["pred"]) == ["", "", ""]
    with pytest.raises(InvalidInput) as err:
        align(pts, pts, pts.assign(type="x"))
    assert err.value.field == "type"


def test_event_recall_counts_an_event_once() -> None:
    pts = _frame(6)
    labels = pts.assign(kind=["a", "a", "a", "b", "b", "b"], event=[0, 0, 0, 1, 1, 2])
    found = event_recall(labels, pts.iloc[[2, 3]])
    assert found["a"] == 1.0 and found["b"] == 0.5

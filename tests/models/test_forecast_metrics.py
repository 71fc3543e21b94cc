"""Forecast metrics against hand-computed values, and their errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import InvalidInput
from models.metrics import forecast as fm

TRUE = np.array([10.0, 12.0, 9.0, 11.0])
PRED = np.array([11.0, 12.0, 7.0, 12.0])


def test_point_errors_by_hand() -> None:
    assert fm.mae(TRUE, PRED) == pytest.approx(1.0)
    assert fm.rmse(TRUE, PRED) == pytest.approx(np.sqrt(6 / 4))
    assert fm.mape(TRUE, PRED) == pytest.approx(np.mean([0.1, 0, 2 / 9, 1 / 11]))
    assert fm.smape(TRUE, PRED) == pytest.approx(np.mean([2 / 21, 0, 4 / 16, 2 / 23]))
    assert fm.r2(TRUE, PRED) == pytest.approx(1 - 6 / 5)


def test_mase_uses_the_in_sample_seasonal_naive() -> None:
    train = np.array([1.0, 2.0, 4.0, 3.0, 5.0])
    assert fm.naive_scale(train, 2) == pytest.approx(np.mean([3, 1, 1]))
    assert fm.mase(TRUE, PRED, train, 2) == pytest.approx(1.0 / (5 / 3))


def test_directional_accuracy_and_coverage() -> None:
    # changes: true +2, -3, +2 ; pred +1, -5, +5 -> all three agree; with last 9: +1 vs +2
    assert fm.directional_accuracy(TRUE, PRED) == pytest.approx(1.0)
    assert fm.directional_accuracy(TRUE, PRED, last_value=10.5) == pytest.approx(3 / 4)
    assert fm.interval_coverage(TRUE, PRED - 1, PRED + 1) == pytest.approx(3 / 4)


def test_point_metrics_dict() -> None:
    out = fm.point_metrics(TRUE, PRED, y_train=[1.0, 2.0, 4.0], season=1)
    assert out["mae"] == pytest.approx(1.0) and out["mase"] == pytest.approx(1 / 1.5)
    assert np.isnan(fm.point_metrics([0.0, 1.0], [0.0, 1.0])["mape"])


@pytest.mark.parametrize("call, match", [
    (lambda: fm.mae([1.0, np.nan], [1.0, 2.0]), "row 1"),
    (lambda: fm.mae([1.0, 2.0], [1.0]), "values"),
    (lambda: fm.mae([], []), "empty"),
    (lambda: fm.mape([0.0, 1.0], [1.0, 1.0]), "row 0"),
    (lambda: fm.r2([2.0, 2.0], [1.0, 2.0]), "constant"),
    (lambda: fm.naive_scale([1.0, 1.0, 1.0], 1), "naive error"),
    (lambda: fm.naive_scale([1.0, 2.0], 2), "more than 2"),
    (lambda: fm.interval_coverage([1.0], [2.0], [0.0]), "lower > upper"),
    (lambda: fm.directional_accuracy([1.0], [1.0]), "two values"),
])
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        call()  # type: ignore[operator]

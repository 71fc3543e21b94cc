"""The anomaly and fraud detectors are scikit-learn estimators: get_params/set_params/clone
work, a clone is unfitted, and a fitted clone detects exactly what the original does."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError as SklearnNotFitted
from sklearn.utils.validation import check_is_fitted

from models.anomaly import (
    AnomalyDetector,
    IsolationForestDetector,
    OneClassSVMDetector,
    PatternBreakDetector,
    RobustZScore,
)
from models.anomaly.books import synthetic_books
from models.anomaly.classify import Rules
from models.anomaly.fraud import TradingFraudDetector

ESTIMATORS = [AnomalyDetector, TradingFraudDetector, RobustZScore, IsolationForestDetector,
              OneClassSVMDetector, PatternBreakDetector]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_params_are_the_init_arguments_and_clone_keeps_them(cls: type[BaseEstimator]) -> None:
    est = cls()
    assert isinstance(est, BaseEstimator)
    names = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert sorted(est.get_params()) == sorted(names)
    with pytest.raises(SklearnNotFitted):
        check_is_fitted(est)
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()


def test_set_params_and_clone_carry_hyperparameters_of_the_ensemble() -> None:
    rules = Rules(min_zero_run=5)
    est = AnomalyDetector().set_params(min_votes=3.0, rules=rules, weights={"zscore": 2.0})
    copy = clone(est)
    assert copy.min_votes == 3.0 and copy.rules == rules and copy.weights == {"zscore": 2.0}
    with pytest.raises(ValueError, match="no_such"):
        AnomalyDetector().set_params(no_such=1)


def test_a_fitted_clone_detects_what_the_original_detects(
        split: tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp], fitted: AnomalyDetector) -> None:
    history, test, _ = split
    again = clone(fitted)
    assert not hasattr(again, "detectors_")
    again.fit(history)
    check_is_fitted(again)
    pd.testing.assert_frame_equal(again.detect(test), fitted.detect(test))


def test_the_fraud_detector_clones_and_refits_to_the_same_scores() -> None:
    books = synthetic_books(n_users=20, n_intervals=40, n_rings=1, ring_size=(2, 3), seed=4)
    first = TradingFraudDetector(window=4).fit(books.orders, books.trades)
    second = clone(first).fit(books.orders, books.trades)
    assert second.window == 4
    pd.testing.assert_frame_equal(second.score(books.orders, books.trades),
                                  first.score(books.orders, books.trades))

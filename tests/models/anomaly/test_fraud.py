"""Trading fraud: features, wash rings, collusive groups, combined risk, anomaly rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.anomaly.books import synthetic_books
from models.anomaly.ensemble import OUTPUT
from models.anomaly.fraud import (
    TradingFraudDetector,
    collusive_groups,
    fraud_anomalies,
    risk_level,
    user_features,
    wash_rings,
)
from models.errors import InvalidInput, NotFittedError


@pytest.fixture(scope="module")
def books():
    return synthetic_books(n_users=30, n_intervals=60, n_rings=2, ring_size=(2, 4), seed=1)


@pytest.fixture(scope="module")
def clean():
    return synthetic_books(n_users=30, n_intervals=60, n_rings=0, seed=2)


def test_every_planted_ring_is_found_and_clean_books_have_none(books, clean) -> None:
    assert len(books.rings) == 2
    assert sorted(map(sorted, wash_rings(books.trades))) == sorted(map(sorted, books.rings))
    assert wash_rings(clean.trades) == []


def test_a_two_hop_wash_is_a_ring_but_one_way_trading_is_not() -> None:
    rows = [(t, "a", "b", 1.0, 0.2) for t in range(0, 40, 8)]
    rows += [(t + 1, "b", "a", 1.02, 0.2) for t in range(0, 40, 8)]
    rows += [(t, "c", "d", 1.0, 0.2) for t in range(40)]
    trades = pd.DataFrame(rows, columns=["interval", "seller_id", "buyer_id", "quantity_kwh",
                                         "price"])
    assert wash_rings(trades) == [frozenset({"a", "b"})]
    assert wash_rings(trades, min_repeats=6) == []


def test_features_expose_wash_traders(books) -> None:
    f = user_features(books.orders, books.trades, books.capacity)
    ring = f.index.isin(set().union(*books.rings))
    assert f.loc[ring, "both_sides"].mean() > f.loc[~ring, "both_sides"].mean()
    assert f.loc[ring, "price_dev"].mean() > f.loc[~ring, "price_dev"].mean()
    assert f.loc[ring, "reciprocity"].min() > 0.0


def test_collusive_group_needs_a_tight_community() -> None:
    rows = [(t, s, b, 1.0, 0.2) for t in range(10) for s, b in
            (("a", "b"), ("b", "c"), ("c", "a"), ("a", "c"))]
    rows += [(t, f"x{t}", f"y{t}", 0.5, 0.2) for t in range(10)]
    trades = pd.DataFrame(rows, columns=["interval", "seller_id", "buyer_id", "quantity_kwh",
                                         "price"])
    assert collusive_groups(trades) == [frozenset({"a", "b", "c"})]


def test_risk_combines_rings_and_novelty(books, clean) -> None:
    with pytest.raises(NotFittedError):
        TradingFraudDetector().score(books.orders, books.trades)
    det = TradingFraudDetector().fit(clean.orders, clean.trades, capacity=clean.capacity)
    s = det.score(books.orders, books.trades, capacity=books.capacity)
    members = set().union(*books.rings)
    assert set(s.index[s["risk_level"] == "critical"]) == members
    assert s["probability"].isna().all()
    rows = fraud_anomalies(s, pd.Timestamp("2000-06-06", tz="UTC"))
    assert list(rows.columns) == list(OUTPUT) and set(rows["type"]) == {"trading_fraud"}
    assert members <= set(rows["meter_id"])


def test_supervised_classifier_when_labels_exist(books) -> None:
    members = set().union(*books.rings)
    labels = pd.Series({u: u in members for u in user_features(books.orders, books.trades).index})
    det = TradingFraudDetector().fit(books.orders, books.trades, labels=labels)
    s = det.score(books.orders, books.trades)
    assert s.loc[list(members), "probability"].min() > s.drop(index=list(members))[
        "probability"].max()
    with pytest.raises(InvalidInput, match="labels"):
        TradingFraudDetector().fit(books.orders, books.trades, labels=labels & False)


def test_bad_trades_raise(books) -> None:
    with pytest.raises(InvalidInput) as err:
        wash_rings(books.trades.drop(columns="price"))
    assert err.value.field == "price"
    bad = books.trades.copy()
    bad.loc[3, "quantity_kwh"] = np.nan
    with pytest.raises(InvalidInput) as err:
        user_features(books.orders, bad)
    assert err.value.row == 3 and err.value.field == "quantity_kwh"


def test_risk_levels() -> None:
    assert list(risk_level([0.1, 0.5, 0.75, 0.95])) == ["low", "medium", "high", "critical"]

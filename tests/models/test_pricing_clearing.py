"""Double-auction clearing: worked examples, tie-breaking, bad input, and properties on random
books checked against a welfare-maximising linear program solved with cvxpy/HiGHS."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.errors import InvalidInput
from models.pricing import clear_by_node, clear_market, split_orders

T0 = pd.Timestamp("2024-06-01 12:00", tz="UTC")


def order(order_id: str, qty: float, price: float, sec: int = 0, **extra: object) -> dict:
    return {"order_id": order_id, "quantity_kwh": qty, "limit_price": price,
            "ts": T0 + pd.Timedelta(seconds=sec), **extra}


BIDS = [order("b1", 5, 0.30, user_id="u1"), order("b2", 3, 0.20, 1, user_id="u2")]
OFFERS = [order("o1", 4, 0.10, user_id="u3"), order("o2", 4, 0.25, user_id="u4")]


def test_uniform_worked_example() -> None:
    c = clear_market(BIDS, OFFERS)
    assert c.volume == pytest.approx(5.0)
    # marginal offer o2 0.25, best open bid b2 0.20, marginal bid 0.30, best open offer 0.25
    assert c.price_interval == (0.25, 0.25)
    assert c.price == pytest.approx(0.25)
    assert c.matches[["bid_id", "offer_id"]].values.tolist() == [["b1", "o1"], ["b1", "o2"]]
    assert c.matches["quantity_kwh"].tolist() == pytest.approx([4.0, 1.0])
    assert c.matches["buyer_id"].tolist() == ["u1", "u1"]
    assert c.matches["seller_id"].tolist() == ["u3", "u4"]
    assert c.buyer_surplus == pytest.approx(5 * 0.05)
    assert c.seller_surplus == pytest.approx(4 * 0.15)
    assert c.unmatched_bids[["order_id", "remaining_kwh"]].values.tolist() == [["b2", 3.0]]
    assert c.unmatched_offers[["order_id", "remaining_kwh"]].values.tolist() == [["o2", 3.0]]


def test_uniform_price_is_midpoint_of_clearing_interval() -> None:
    c = clear_market([order("b1", 2, 0.40)], [order("o1", 2, 0.10)])
    assert c.price_interval == (0.10, 0.40)
    assert c.price == pytest.approx(0.25)


def test_partial_fill_of_marginal_bid_sets_price_at_its_limit() -> None:
    c = clear_market([order("b1", 10, 0.30)], [order("o1", 5, 0.10)])
    assert c.volume == pytest.approx(5.0)
    assert c.price == pytest.approx(0.30)  # demand exceeds supply up to the buyer's limit
    assert c.unmatched_bids["remaining_kwh"].tolist() == pytest.approx([5.0])


def test_pay_as_bid_prices_each_pair_at_the_midpoint_of_its_limits() -> None:
    c = clear_market(BIDS, OFFERS, rule="pay_as_bid")
    assert c.matches["price"].tolist() == pytest.approx([0.20, 0.275])
    assert c.price == pytest.approx((4 * 0.20 + 1 * 0.275) / 5)
    uniform = clear_market(BIDS, OFFERS)
    assert c.volume == pytest.approx(uniform.volume)
    assert c.total_surplus == pytest.approx(uniform.total_surplus)


def test_books_that_do_not_cross_do_not_trade() -> None:
    c = clear_market([order("b1", 5, 0.10)], [order("o1", 5, 0.20)])
    assert c.price is None and not c.traded
    assert c.volume == 0 and c.matches.empty and c.total_surplus == 0
    assert c.unmatched_bids["remaining_kwh"].tolist() == [5.0]
    assert c.unmatched_offers["order_id"].tolist() == ["o1"]


@pytest.mark.parametrize("bids, offers", [([], []), (None, OFFERS), (BIDS, []),
                                          (pd.DataFrame(), pd.DataFrame())])
def test_empty_book_clears_to_no_trade(bids: object, offers: object) -> None:
    c = clear_market(bids, offers)
    assert c.price is None and c.volume == 0 and c.matches.empty


def test_ties_break_by_time_then_order_id() -> None:
    bids = [order("b9", 2, 0.30, 5), order("b2", 2, 0.30, 0), order("b1", 2, 0.30, 5)]
    c = clear_market(bids, [order("o1", 3, 0.10)])
    assert c.matches["bid_id"].tolist() == ["b2", "b1"]  # b2 is earliest; b1 beats b9 by id
    assert c.matches["quantity_kwh"].tolist() == pytest.approx([2.0, 1.0])
    offers = [order("o3", 2, 0.10, 0), order("o2", 2, 0.10, 0)]
    c = clear_market([order("b1", 3, 0.30)], offers)
    assert c.matches["offer_id"].tolist() == ["o2", "o3"]


def test_integer_order_ids_tie_break_numerically() -> None:
    bids = [order(10, 1, 0.3), order(9, 1, 0.3)]  # type: ignore[arg-type]
    c = clear_market(bids, [order(1, 1, 0.1)])  # type: ignore[arg-type]
    assert c.matches["bid_id"].tolist() == [9]


def test_result_does_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(3)
    bids = pd.DataFrame(random_orders(rng, "b", 40))
    offers = pd.DataFrame(random_orders(rng, "o", 40))
    a = clear_market(bids, offers)
    b = clear_market(bids.sample(frac=1, random_state=1), offers.sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(a.matches, b.matches)
    assert a.price == b.price


def random_orders(rng: np.random.Generator, prefix: str, n: int) -> list[dict]:
    return [order(f"{prefix}{i}", float(rng.integers(1, 9)), float(rng.choice([0.1, 0.2, 0.3])),
                  int(rng.integers(0, 3))) for i in range(n)]


@pytest.mark.parametrize("side, change, field, value", [
    ("bid", {"quantity_kwh": -1.0}, "quantity_kwh", -1.0),
    ("offer", {"quantity_kwh": 0}, "quantity_kwh", 0),
    ("bid", {"limit_price": float("nan")}, "limit_price", None),
    ("bid", {"limit_price": float("inf")}, "limit_price", float("inf")),
    ("offer", {"limit_price": 0.51}, "limit_price", 0.51),
    ("offer", {"limit_price": 0.01}, "limit_price", 0.01),
    ("bid", {"limit_price": "cheap"}, "limit_price", "cheap"),
    ("bid", {"ts": "not a time"}, "ts", "not a time"),
    ("offer", {"side": "sell"}, "side", "sell"),
])
def test_bad_order_names_order_field_and_value(side: str, change: dict, field: str,
                                               value: object) -> None:
    bids = [dict(b) for b in BIDS]
    offers = [dict(o) for o in OFFERS]
    target = bids if side == "bid" else offers
    target[1].update(change)
    with pytest.raises(InvalidInput) as info:
        clear_market(bids, offers)
    err = info.value
    assert err.field == field and err.row == target[1]["order_id"]
    assert target[1]["order_id"] in str(err) and field in str(err)
    if value is not None:
        assert err.value == value
    else:
        assert np.isnan(err.value)


def test_duplicate_order_ids_rejected_within_and_across_books() -> None:
    with pytest.raises(InvalidInput, match="duplicated") as info:
        clear_market([*BIDS, order("b1", 1, 0.2)], OFFERS)
    assert info.value.row == "b1" and info.value.field == "order_id"
    with pytest.raises(InvalidInput, match="both as a bid and as an offer") as info:
        clear_market(BIDS, [*OFFERS, order("b2", 1, 0.2)])
    assert info.value.row == "b2"


def test_missing_column_rule_and_bounds_rejected() -> None:
    with pytest.raises(InvalidInput, match="missing column") as info:
        clear_market([{"order_id": "b1", "quantity_kwh": 1, "limit_price": 0.2}], OFFERS)
    assert info.value.field == "ts"
    with pytest.raises(InvalidInput, match="rule") as info:
        clear_market(BIDS, OFFERS, rule="vickrey")
    assert info.value.value == "vickrey"
    with pytest.raises(InvalidInput, match="floor"):
        clear_market(BIDS, OFFERS, floor=0.5, cap=0.05)
    with pytest.raises(InvalidInput, match="cap"):
        clear_market(BIDS, OFFERS, cap=float("nan"))


def test_split_orders_by_side_and_rejects_unknown_side() -> None:
    frame = pd.DataFrame([{**BIDS[0], "side": "bid"}, {**OFFERS[0], "side": " Offer "}])
    bids, offers = split_orders(frame)
    assert bids["order_id"].tolist() == ["b1"] and offers["order_id"].tolist() == ["o1"]
    assert clear_market(bids, offers).volume == pytest.approx(4.0)
    frame.loc[1, "side"] = "ask"
    with pytest.raises(InvalidInput, match="side") as info:
        split_orders(frame)
    assert (info.value.row, info.value.value) == ("o1", "ask")


def test_clear_by_node_keeps_zones_apart() -> None:
    bids = [order("b1", 5, 0.30, node_id="A"), order("b2", 5, 0.40, node_id="B")]
    offers = [order("o1", 5, 0.10, node_id="A"), order("o2", 2, 0.45, node_id="B"),
              order("o3", 1, 0.05, node_id="C")]
    result = clear_by_node(bids, offers)
    assert list(result) == ["A", "B", "C"]
    assert result["A"].volume == pytest.approx(5) and result["A"].price == pytest.approx(0.2)
    assert result["B"].price is None  # the cheap offer at C cannot serve B
    assert result["C"].price is None and len(result["C"].unmatched_offers) == 1
    with pytest.raises(InvalidInput, match="node_id"):
        clear_by_node(BIDS, OFFERS)


def test_to_dict_is_plain_data() -> None:
    d = clear_market(BIDS, OFFERS).to_dict()
    assert d["price"] == pytest.approx(0.25) and d["volume_kwh"] == pytest.approx(5)
    assert d["matches"][0]["bid_id"] == "b1"
    assert isinstance(d["unmatched_bids"][0]["ts"], str)


# -- properties on random books against a welfare-maximising LP ---------------------------

PRICES = [round(0.05 + 0.05 * k, 2) for k in range(10)]


@st.composite
def books(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    def side(prefix: str) -> pd.DataFrame:
        n = draw(st.integers(0, 8))
        rows = [order(f"{prefix}{i}", draw(st.floats(0.1, 20).map(lambda x: round(x, 3))),
                      draw(st.sampled_from(PRICES)), draw(st.integers(0, 3))) for i in range(n)]
        return pd.DataFrame(rows, columns=["order_id", "quantity_kwh", "limit_price", "ts"])
    return side("b"), side("o")


def welfare_lp(bids: pd.DataFrame, offers: pd.DataFrame) -> tuple[float, float]:
    """Max welfare, then the largest volume among welfare-maximising allocations (HiGHS)."""
    if bids.empty or offers.empty:
        return 0.0, 0.0
    x, y = cp.Variable(len(bids)), cp.Variable(len(offers))
    welfare = bids["limit_price"].to_numpy() @ x - offers["limit_price"].to_numpy() @ y
    base = [x >= 0, y >= 0, x <= bids["quantity_kwh"].to_numpy(),
            y <= offers["quantity_kwh"].to_numpy(), cp.sum(x) == cp.sum(y)]
    best = cp.Problem(cp.Maximize(welfare), base).solve(solver=cp.HIGHS)
    volume = cp.Problem(cp.Maximize(cp.sum(x)), [*base, welfare >= best - 1e-9]).solve(
        solver=cp.HIGHS)
    return float(best), float(volume)


PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(books())
def test_uniform_clearing_matches_the_welfare_lp(book: tuple[pd.DataFrame, pd.DataFrame]
                                                 ) -> None:
    bids, offers = book
    welfare, volume = welfare_lp(bids, offers)
    for rule in ("uniform", "pay_as_bid"):
        c = clear_market(bids, offers, rule=rule)
        assert c.volume == pytest.approx(volume, abs=1e-6)
        assert c.total_surplus == pytest.approx(welfare, abs=1e-6)


@PROPERTY
@given(books(), st.sampled_from(["uniform", "pay_as_bid"]))
def test_clearing_is_individually_rational_and_balanced(
        book: tuple[pd.DataFrame, pd.DataFrame], rule: str) -> None:
    bids, offers = book
    c = clear_market(bids, offers, rule=rule)
    m = c.matches
    limit = {**dict(zip(bids["order_id"], bids["limit_price"], strict=True)),
             **dict(zip(offers["order_id"], offers["limit_price"], strict=True))}
    assert (m["price"] <= m["bid_id"].map(limit) + 1e-12).all()  # no buyer above its limit
    assert (m["price"] >= m["offer_id"].map(limit) - 1e-12).all()  # no seller below its ask
    cash = m["quantity_kwh"] * m["price"]
    paid = cash.groupby(m["bid_id"]).sum().sum()
    received = cash.groupby(m["offer_id"]).sum().sum()
    assert paid == pytest.approx(received)
    filled = m.groupby("bid_id")["quantity_kwh"].sum()
    qty = bids.set_index("order_id")["quantity_kwh"]
    assert (filled <= qty.reindex(filled.index) + 1e-9).all()
    if c.price is not None and rule == "uniform":
        assert (c.unmatched_bids["limit_price"] <= c.price + 1e-12).all()
        assert (c.unmatched_offers["limit_price"] >= c.price - 1e-12).all()
    if len(c.unmatched_bids) and len(c.unmatched_offers):  # what is left does not cross
        assert c.unmatched_bids["limit_price"].max() < c.unmatched_offers["limit_price"].min()


@PROPERTY
@given(books(), st.floats(0.1, 20), st.data())
def test_adding_a_bid_above_the_price_never_lowers_volume(
        book: tuple[pd.DataFrame, pd.DataFrame], qty: float, data: st.DataObject) -> None:
    bids, offers = book
    before = clear_market(bids, offers)
    floor = before.price if before.price is not None else 0.05
    limit = data.draw(st.sampled_from([p for p in PRICES if p >= floor] or [0.5]))
    extra = pd.DataFrame([order("new", qty, limit, 3)])
    more = pd.concat([bids, extra], ignore_index=True) if len(bids) else extra
    after = clear_market(more, offers)
    assert after.volume >= before.volume - 1e-9


def test_float_rounding_leaves_no_dust_matches_or_remainders() -> None:
    offers = [order("o1", 0.1, 0.10), order("o2", 0.2, 0.10, 1)]
    c = clear_market([order("b1", 0.3, 0.30)], offers)  # 0.1 + 0.2 != 0.3 in binary
    assert len(c.matches) == 2 and c.volume == pytest.approx(0.3)
    assert c.unmatched_bids.empty and c.unmatched_offers.empty


def test_numeric_and_naive_timestamps_order_by_time() -> None:
    bids = [order("b1", 1, 0.3), order("b2", 1, 0.3)]
    bids[0]["ts"], bids[1]["ts"] = 20, 10
    assert clear_market(bids, [order("o1", 1, 0.1)]).matches["bid_id"].tolist() == ["b2"]
    offers = [order("o1", 1, 0.1, 9), order("o2", 1, 0.1, 2)]
    for o in offers:
        o["ts"] = o["ts"].tz_localize(None)
    assert clear_market([order("b1", 1, 0.3)], offers).matches["offer_id"].tolist() == ["o2"]

"""Tariff strategies, the exact welfare-optimal price and the price components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import InvalidInput
from models.pricing import (
    TimeOfUse,
    congestion_multiplier,
    marginal_cost_price,
    nodal_congestion,
    price_components,
    supply_demand_price,
    time_of_use_price,
    welfare_optimal_price,
)
from models.pricing.welfare import _curve, _Problem


def test_marginal_cost_with_markup_is_clipped() -> None:
    assert marginal_cost_price(0.20, markup=0.25) == pytest.approx(0.25)
    assert marginal_cost_price(0.01) == 0.05
    assert marginal_cost_price(1.0) == 0.50
    with pytest.raises(InvalidInput) as info:
        marginal_cost_price(-0.1)
    assert info.value.field == "marginal_cost" and info.value.value == -0.1


def test_time_of_use_default_windows() -> None:
    hours = pd.date_range("2024-06-03", periods=24, freq="h")
    expected = np.ones(24)
    expected[17:21] = 1.5
    expected[[22, 23, 0, 1, 2, 3, 4, 5]] = 0.7
    np.testing.assert_allclose(TimeOfUse().multiplier(hours), expected)
    assert time_of_use_price(0.2, pd.Timestamp("2024-06-03 18:30")) == pytest.approx(0.3)
    assert time_of_use_price(0.2, pd.Timestamp("2024-06-03 12:00")) == pytest.approx(0.2)


def test_time_of_use_is_configurable_and_converts_time_zone() -> None:
    tou = TimeOfUse(peak_hours=(7, 9), offpeak_hours=(0, 5), peak_multiplier=2.0,
                    offpeak_multiplier=0.5, tz="Europe/Berlin")
    assert tou.multiplier(pd.Timestamp("2024-06-03 06:00", tz="UTC")) == 2.0  # 08:00 local
    assert tou.multiplier(pd.Timestamp("2024-06-03 01:00", tz="UTC")) == 0.5
    with pytest.raises(InvalidInput, match="overlap"):
        TimeOfUse(peak_hours=(17, 23)).multiplier(pd.Timestamp("2024-06-03"))
    with pytest.raises(InvalidInput) as info:
        TimeOfUse().multiplier(["2024-06-03", "never"])
    assert (info.value.field, info.value.row, info.value.value) == ("ts", 1, "never")


def test_congestion_multiplier() -> None:
    assert congestion_multiplier(0.0) == 1.0
    assert congestion_multiplier(0.6) == pytest.approx(1.3)
    assert congestion_multiplier(1.0) == pytest.approx(1.5)
    with pytest.raises(InvalidInput) as info:
        congestion_multiplier(1.2)
    assert info.value.value == 1.2


def test_supply_demand_price_between_tariffs() -> None:
    assert supply_demand_price(50, 50, 0.08, 0.30) == pytest.approx(0.19)
    assert supply_demand_price(0, 10, 0.08, 0.30) == pytest.approx(0.30)
    assert supply_demand_price(10, 0, 0.08, 0.30) == pytest.approx(0.08)
    assert supply_demand_price(10, 30, 0.08, 0.30) == pytest.approx(0.08 + 0.22 * 0.75)
    prices = [supply_demand_price(s, 10, 0.08, 0.30) for s in range(0, 50, 5)]
    assert all(np.diff(prices) < 0)
    with pytest.raises(InvalidInput, match="feed_in_tariff"):
        supply_demand_price(1, 1, 0.4, 0.3)
    with pytest.raises(InvalidInput) as info:
        supply_demand_price(-1, 1, 0.1, 0.3)
    assert info.value.field == "supply_kwh"


def test_nodal_congestion_seam() -> None:
    out = nodal_congestion({"A": 0.20, "B": 0.26, "C": 0.18}, reference_price=0.20)
    assert out == pytest.approx({"A": 0.0, "B": 0.06, "C": -0.02})
    with pytest.raises(InvalidInput) as info:
        nodal_congestion({"A": 0.2, "B": float("nan")}, 0.2)
    assert info.value.row == "B"


def test_price_components_sum_exactly_to_the_total() -> None:
    c = price_components(0.20, congestion_level=0.5, ts=pd.Timestamp("2024-06-03 18:00"),
                         grid_fee=0.03)
    assert (c.energy, c.congestion, c.grid_fee) == pytest.approx((0.20, 0.05, 0.03))
    assert c.time_of_use == pytest.approx(0.25 * 0.5)
    assert c.total == pytest.approx(0.20 * 1.25 * 1.5 + 0.03)
    assert c.energy + c.congestion + c.time_of_use + c.grid_fee + c.bound_adjustment == c.total
    assert c.bound_adjustment == 0


@given(st.floats(0, 1), st.floats(0, 1), st.integers(0, 23), st.floats(0, 0.2),
       st.one_of(st.none(), st.floats(-0.1, 0.1)))
@settings(max_examples=80, deadline=None)
def test_components_add_up_and_stay_in_bounds(energy: float, level: float, hour: int,
                                              fee: float, nodal: float | None) -> None:
    kwargs = {"nodal_congestion": nodal} if nodal is not None else {"congestion_level": level}
    c = price_components(energy, ts=pd.Timestamp("2024-06-03") + pd.Timedelta(hours=hour),
                         grid_fee=fee, **kwargs)
    assert c.energy + c.congestion + c.time_of_use + c.grid_fee + c.bound_adjustment == c.total
    assert 0.05 <= c.total <= 0.50
    congestion = nodal if nodal is not None else energy * 0.5 * level
    raw = (energy + congestion) * TimeOfUse().multiplier(
        pd.Timestamp("2024-06-03") + pd.Timedelta(hours=hour)) + fee
    assert c.total == pytest.approx(min(max(raw, 0.05), 0.50), abs=1e-12)


def test_price_components_reject_both_congestion_sources() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        price_components(0.2, congestion_level=0.5, nodal_congestion=0.01)


LINEAR_DEMAND = ([0.05, 0.50], [100.0, 0.0])
LINEAR_SUPPLY = ([0.05, 0.50], [0.0, 100.0])


def test_equal_weights_give_the_market_equilibrium() -> None:
    r = welfare_optimal_price(LINEAR_DEMAND, LINEAR_SUPPLY)
    assert r.price == pytest.approx(0.275)
    assert r.volume_kwh == pytest.approx(50) and r.imbalance_kwh == pytest.approx(0)
    # triangles of base 50 kWh and height 0.225
    assert r.consumer_surplus == pytest.approx(0.5 * 50 * 0.225)
    assert r.producer_surplus == pytest.approx(0.5 * 50 * 0.225)


def test_consumer_weighted_optimum_in_closed_form() -> None:
    # weights (1, 0, 0): below the equilibrium Q = S(p), CS(p) = Q (0.5 - p) - Q^2 / 2 / k with
    # D, S slopes k = 222.2 kWh/price; maximising gives p = (0.5 + 2 * 0.05) / 3 = 0.2
    r = welfare_optimal_price(LINEAR_DEMAND, LINEAR_SUPPLY, weights=(1, 0, 0))
    assert r.price == pytest.approx(0.2)
    r = welfare_optimal_price(LINEAR_DEMAND, LINEAR_SUPPLY, weights=(0, 1, 0))
    assert r.price == pytest.approx(0.35)


def test_welfare_price_clipped_when_equilibrium_outside_bounds() -> None:
    demand, supply = ([0.05, 0.90], [100, 50]), ([0.05, 0.90], [0, 60])
    r = welfare_optimal_price(demand, supply)
    assert r.price == pytest.approx(0.50)  # the equilibrium, 0.82, is above the cap
    t = 0.45 / 0.85
    assert r.volume_kwh == pytest.approx(60 * t)
    assert r.imbalance_kwh == pytest.approx(60 * t - (100 - 50 * t))
    flat = welfare_optimal_price(([0.6], [100]), ([0.6], [10]))
    assert flat.price == 0.05  # a flat objective: ties go to the lowest price


@st.composite
def curves(draw: st.DrawFn, decreasing: bool) -> tuple[list[float], list[float]]:
    n = draw(st.integers(1, 5))
    xs = sorted(draw(st.lists(st.integers(0, 60), min_size=n, max_size=n, unique=True)))
    ys = sorted(draw(st.lists(st.floats(0, 100), min_size=n, max_size=n)),
                reverse=decreasing)
    return [x / 100 for x in xs], ys


@given(curves(True), curves(False), st.tuples(*[st.floats(0.01, 1)] * 3), st.floats(0, 0.3))
@settings(max_examples=60, deadline=None)
def test_welfare_optimum_beats_every_price_on_a_dense_grid(
        demand: tuple, supply: tuple, weights: tuple, cost: float) -> None:
    r = welfare_optimal_price(demand, supply, weights=weights, balancing_cost=cost)
    problem = _Problem(_curve("d", demand, True), _curve("s", supply, False), weights, cost,
                       0.05, 0.50)
    grid = np.linspace(0.05, 0.50, 901)
    best_on_grid = max(problem.objective(p) for p in grid)
    assert r.objective >= best_on_grid - 1e-9
    assert 0.05 <= r.price <= 0.50
    assert r.objective == pytest.approx(problem.objective(r.price))


@pytest.mark.parametrize("demand, field, row", [
    (([0.1, 0.2], [10, 20]), "quantity_kwh", 1),
    (([0.2, 0.1], [20, 10]), "price", 1),
    (([0.1, 0.2], [10, -1]), "quantity_kwh", 1),
    (([0.1, float("nan")], [10, 5]), "price", 1),
])
def test_bad_curves_name_the_point(demand: tuple, field: str, row: int) -> None:
    with pytest.raises(InvalidInput) as info:
        welfare_optimal_price(demand, LINEAR_SUPPLY)
    assert (info.value.field, info.value.row) == (field, row)


def test_welfare_accepts_frames_and_rejects_bad_weights() -> None:
    frame = pd.DataFrame({"price": LINEAR_DEMAND[0], "quantity_kwh": LINEAR_DEMAND[1]})
    assert welfare_optimal_price(frame, dict(zip(*LINEAR_SUPPLY, strict=True))).price == \
        pytest.approx(0.275)
    with pytest.raises(InvalidInput, match="weights"):
        welfare_optimal_price(LINEAR_DEMAND, LINEAR_SUPPLY, weights=(0, 0, 0))
    with pytest.raises(InvalidInput, match="missing column"):
        welfare_optimal_price(frame.drop(columns="price"), LINEAR_SUPPLY)

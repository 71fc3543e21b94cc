"""optimize_dispatch: physics of the plan (balance, storage, lines, demand response), figures and
the effect of the objective weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from optimization_cases import HOURS, small_case

from models.optimization import Dispatch, Grid, GridConnection, Weights, optimize_dispatch

TOL = 1e-6


@pytest.fixture
def case() -> dict[str, Any]:
    return small_case()


def _solve(case: dict[str, Any], **kw: Any) -> Dispatch:
    return optimize_dispatch(case["grid"], case["demand"], case["generation"], case["prices"],
                             horizon=24, **kw)


def nodal_residual(grid: Grid, d: Dispatch, generation: pd.DataFrame) -> pd.DataFrame:
    """Supply minus served demand per node and hour, recomputed from the plan's frames."""
    nodes = grid.node_ids
    supply = generation.reindex(columns=nodes, fill_value=0.0) - d.renewable_spilled
    supply = supply.add(d.storage_discharge - d.storage_charge, fill_value=0.0)
    conn = grid.connection.node
    supply[conn] += d.grid_import - d.grid_export
    for label, (_, line) in zip(d.flows.columns, grid.lines.iterrows(), strict=True):
        supply[line["from"]] -= d.flows[label]
        supply[line["to"]] += d.flows[label]
    for g, row in grid.generators.iterrows():
        supply[row["node"]] += d.generation[g]
    return supply + d.unserved - d.served_demand


def test_energy_balance_holds_at_every_node_and_hour(case: dict[str, Any]) -> None:
    d = _solve(case)
    residual = nodal_residual(case["grid"], d, case["generation"])
    assert residual.shape == (24, 3)
    assert residual.abs().to_numpy().max() < TOL
    assert d.status == "optimal" and d.solver == "HIGHS"


def test_state_of_charge_follows_dynamics_stays_in_bounds_and_ends_where_asked() -> None:
    case = small_case(soc_final=0.8)
    d = _solve(case)
    soc = d.state_of_charge["prosumer"].to_numpy()
    assert soc.min() >= 0.1 * 10 - TOL and soc.max() <= 0.95 * 10 + TOL
    assert soc[-1] == pytest.approx(8.0, abs=TOL)
    previous = np.r_[5.0, soc[:-1]]
    expected = (previous + 0.95 * d.storage_charge["prosumer"].to_numpy()
                - d.storage_discharge["prosumer"].to_numpy() / 0.9)
    np.testing.assert_allclose(soc, expected, atol=TOL)
    assert d.storage_charge["prosumer"].max() <= 4.0 + TOL
    assert d.storage_discharge["prosumer"].sum() > 1.0  # the battery is actually used


def test_line_limits_hold_and_bind_when_tight() -> None:
    d = _solve(small_case(line_kw=4.6), weights=Weights(cost=1.0, renewable=0.0, stability=0.0))
    flow = d.flows["feeder->consumer"].abs()
    assert flow.max() <= 4.6 + TOL
    assert flow.max() == pytest.approx(4.6, abs=1e-5)  # the limit is active in the evening
    # congestion separates the nodal prices at the ends of the limited line
    gap = (d.nodal_prices["consumer"] - d.nodal_prices["feeder"]).max()
    assert gap > 0.01


def test_uncongested_grid_has_one_nodal_price_equal_to_the_marginal_cost() -> None:
    case = small_case(line_kw=1000.0)
    d = _solve(case, weights=Weights(cost=1.0, renewable=0.0, stability=0.0))
    spread = d.nodal_prices.max(axis=1) - d.nodal_prices.min(axis=1)
    assert spread.max() < 1e-6
    # at night the marginal kWh comes from the main grid at the import price
    assert d.nodal_prices["feeder"].iloc[2] == pytest.approx(0.20, abs=1e-6)


def test_battery_never_charges_and_discharges_at_once(case: dict[str, Any]) -> None:
    d = _solve(case)
    both = np.minimum(d.storage_charge.to_numpy(), d.storage_discharge.to_numpy())
    assert both.max() < TOL


def test_demand_shift_is_energy_neutral_and_moves_stay_within_window(case: dict[str, Any]) -> None:
    d = _solve(case)
    shift = d.demand_shift["consumer"].to_numpy()
    assert np.abs(shift).max() > 0.1  # flexible load is actually moved off the evening peak
    assert abs(shift.sum()) < TOL
    assert np.abs(shift).max() <= 1.0 + TOL
    moves = d.demand_moves
    assert set(moves["node"]) == {"consumer"}
    hours = (moves["to_hour"] - moves["from_hour"]).abs() / pd.Timedelta("1h")
    assert hours.max() <= 3 and hours.min() >= 1
    net = (moves.groupby("to_hour")["kwh"].sum().reindex(HOURS, fill_value=0.0)
           - moves.groupby("from_hour")["kwh"].sum().reindex(HOURS, fill_value=0.0))
    np.testing.assert_allclose(net.to_numpy(), shift, atol=1e-5)
    assert d.demand_curtailed["consumer"].max() <= 0.5 + TOL


def test_figures_follow_their_definitions(case: dict[str, Any]) -> None:
    d = _solve(case)
    demand, pv = case["demand"], case["generation"]
    baseline = (demand.sum(axis=1) - pv.sum(axis=1)).clip(lower=0).max()
    assert d.baseline_peak_kw == pytest.approx(baseline)
    assert d.peak_kw == pytest.approx(d.grid_import.max())
    assert d.peak_reduction_kw == pytest.approx(baseline - d.peak_kw)
    assert d.peak_reduction_kw > 0
    assert d.carbon_kg == pytest.approx(0.25 * d.grid_import.sum(), rel=1e-9)
    energy = (case["prices"]["import"] * d.grid_import
              - case["prices"]["export"] * d.grid_export).sum()
    assert d.cost_breakdown["energy"] == pytest.approx(energy, rel=1e-9)
    assert d.total_cost == pytest.approx(sum(d.cost_breakdown.values()))
    used = pv.sum().sum() - d.renewable_spilled.sum().sum()
    assert d.renewable_share == pytest.approx(used / (used + d.grid_import.sum()))


def test_raising_a_weight_improves_its_own_term(case: dict[str, Any]) -> None:
    cheap = _solve(case, weights=Weights(cost=1.0, renewable=0.0, stability=0.0))
    seed = _solve(case)  # the seed's 0.6 / 0.3 / 0.1
    stable = _solve(case, weights=Weights(cost=0.6, renewable=0.3, stability=1.0))
    green = _solve(case, weights=Weights(cost=0.6, renewable=2.0, stability=0.1))
    assert cheap.total_cost <= seed.total_cost + TOL
    assert stable.peak_kw < seed.peak_kw - 0.1
    assert seed.peak_kw <= cheap.peak_kw + TOL
    assert green.grid_import.sum() <= seed.grid_import.sum() + TOL
    assert green.renewable_share >= seed.renewable_share - TOL


def test_carbon_price_enters_the_cost_only_when_set(case: dict[str, Any]) -> None:
    plain = _solve(case)
    priced = _solve(case, carbon_price=0.1)
    assert "carbon" not in plain.cost_breakdown
    assert priced.cost_breakdown["carbon"] == pytest.approx(0.1 * priced.carbon_kg, rel=1e-9)
    assert priced.carbon_kg <= plain.carbon_kg + TOL


def test_generators_and_dc_power_flow_split_by_reactance() -> None:
    nodes = pd.DataFrame(index=pd.Index(["a", "b", "c"], name="node_id"))
    lines = pd.DataFrame({"from": ["a", "a", "b"], "to": ["b", "c", "c"],
                          "reactance": [0.1, 0.2, 0.1]})
    gens = pd.DataFrame({"node": ["a", "c"], "p_max_kw": [100.0, 100.0],
                         "cost_linear": [0.1, 0.3], "cost_quadratic": [0.0, 0.001]},
                        index=["cheap", "dear"])
    grid = Grid(nodes=nodes, lines=lines, generators=gens)
    demand = pd.DataFrame({"b": [30.0, 60.0], "c": [10.0, 20.0]})
    d = optimize_dispatch(grid, demand, horizon=2)
    assert d.solver == "CLARABEL"  # quadratic cost
    theta = d.angles.to_numpy() * grid.base_kva
    expected = np.c_[(theta[:, 0] - theta[:, 1]) / 0.1, (theta[:, 0] - theta[:, 2]) / 0.2,
                     (theta[:, 1] - theta[:, 2]) / 0.1]
    np.testing.assert_allclose(d.flows.to_numpy(), expected, atol=1e-5)
    assert nodal_residual_no_conn(grid, d, demand) < 1e-5
    assert d.generation["dear"].iloc[0] == pytest.approx(0.0, abs=1e-4)  # 0.3 > 0.1: unused


def nodal_residual_no_conn(grid: Grid, d: Dispatch, demand: pd.DataFrame) -> float:
    served = demand.reindex(columns=grid.node_ids, fill_value=0.0)
    supply = pd.DataFrame(0.0, index=served.index, columns=grid.node_ids)
    for g, row in grid.generators.iterrows():
        supply[row["node"]] += d.generation[g]
    for label, (_, line) in zip(d.flows.columns, grid.lines.iterrows(), strict=True):
        supply[line["from"]] -= d.flows[label]
        supply[line["to"]] += d.flows[label]
    return float((supply - served).abs().to_numpy().max())


def test_static_demand_and_scalar_price_are_accepted() -> None:
    nodes = pd.DataFrame({"demand_kw": [2.0, 3.0]}, index=["x", "y"])
    grid = Grid(nodes=nodes, lines=pd.DataFrame({"from": ["x"], "to": ["y"]}),
                connection=GridConnection(node="x", import_price=0.3))
    d = optimize_dispatch(grid, prices=0.2, horizon=3, weights=Weights(1, 0, 0))
    assert d.grid_import.to_numpy() == pytest.approx([5.0, 5.0, 5.0], abs=TOL)
    assert d.total_cost == pytest.approx(3 * 5.0 * 0.2, rel=1e-9)


def test_radial_dc_network_matches_transfers_and_recovers_angles(case: dict[str, Any]) -> None:
    """On a radial network DC power flow constrains nothing: same plan as plain transfers, and
    the reported angles carry every flow with the reference node at 0."""
    grid = case["grid"]
    dc_lines = grid.lines.assign(reactance=[0.1, 0.2], shift_rad=[0.0, 0.05])
    dc = Grid(nodes=grid.nodes, lines=dc_lines, connection=grid.connection)
    plain, radial = _solve(case), _solve({**case, "grid": dc})
    assert radial.objective == pytest.approx(plain.objective, rel=1e-7)
    theta = radial.angles.to_numpy()
    assert np.abs(theta[:, 0]).max() <= 1e-12
    expected = np.c_[(theta[:, 0] - theta[:, 1] - 0.0) / 0.1,
                     (theta[:, 0] - theta[:, 2] - 0.05) / 0.2] * dc.base_kva
    np.testing.assert_allclose(radial.flows.to_numpy(), expected, atol=1e-6)
    assert np.abs(radial.flows.to_numpy()).max() > 1.0  # the check above is not vacuous


def test_round_off_bounds_are_zero_and_limits_are_scaled() -> None:
    from models.optimization.model import _bounded

    var = _bounded("x", (2, 3), 10.0, 0.0, np.array([[1e-16, 5.0, 20.0], [0.0, 1.0, 2.0]]))
    lower, upper = var.bounds
    np.testing.assert_array_equal(lower, np.zeros((2, 3)))
    np.testing.assert_array_equal(upper, [[0.0, 0.5, 2.0], [0.0, 0.1, 0.2]])
    assert _bounded("y", 4, 10.0, 0.0, np.inf).is_nonneg()

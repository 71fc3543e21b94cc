"""Grid.from_pandapower against pandapower's own DC OPF (``rundcopp``) on one period."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from models.optimization import Grid, Weights, optimize_dispatch

pp = pytest.importorskip("pandapower")
pn = pytest.importorskip("pandapower.networks")

COST_ONLY = Weights(cost=1.0, renewable=0.0, stability=0.0)


def _rundcopp(net: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp.rundcopp(net)


@pytest.mark.parametrize(("case", "measured"), [("case9", 5216.03), ("case14", 7642.59)])
def test_one_period_matches_pandapower_dc_opf(case: str, measured: float) -> None:
    net = getattr(pn, case)()
    grid = Grid.from_pandapower(net)
    d = optimize_dispatch(grid, horizon=1, weights=COST_ONLY)
    _rundcopp(net)
    assert d.total_cost == pytest.approx(net.res_cost, rel=1e-6)
    assert d.total_cost == pytest.approx(measured, abs=0.01)  # the lead's measurement
    # the duals of the nodal balance are pandapower's locational marginal prices
    lam = net.res_bus.lam_p.to_numpy() / 1000.0  # $/MWh -> $/kWh
    np.testing.assert_allclose(d.nodal_prices.iloc[0].to_numpy(), lam, rtol=1e-5)
    # generator set points in kW, ext_grid first
    expected = np.r_[net.res_ext_grid.p_mw.to_numpy(), net.res_gen.p_mw.to_numpy()] * 1000.0
    np.testing.assert_allclose(d.generation.iloc[0].to_numpy(), expected, atol=0.5)


def test_congested_case_separates_prices_like_pandapower() -> None:
    net = pn.case9()
    net.line["max_loading_percent"] = 40.0  # force congestion
    grid = Grid.from_pandapower(net)
    d = optimize_dispatch(grid, horizon=1, weights=COST_ONLY)
    _rundcopp(net)
    assert d.total_cost == pytest.approx(net.res_cost, rel=1e-6)
    lam = net.res_bus.lam_p.to_numpy() / 1000.0
    assert np.ptp(lam) > 1e-3  # prices really differ across buses
    np.testing.assert_allclose(d.nodal_prices.iloc[0].to_numpy(), lam, rtol=1e-4)


def test_piecewise_linear_costs_are_imported() -> None:
    net = pn.case9()
    net.poly_cost.drop(net.poly_cost.index, inplace=True)
    for et, idx in (("ext_grid", 0), ("gen", 0), ("gen", 1)):
        slope = 10.0 + 5 * len(net.pwl_cost)
        pp.create_pwl_cost(net, idx, et, [[0, 150, slope], [150, 300, 2 * slope]])
    grid = Grid.from_pandapower(net)
    assert grid.generators["cost_points"].notna().all()
    d = optimize_dispatch(grid, horizon=1, weights=COST_ONLY)
    assert d.solver == "HIGHS"
    _rundcopp(net)
    assert d.total_cost == pytest.approx(net.res_cost, rel=1e-6)


def test_imported_grid_has_demand_lines_and_costs_in_model_units() -> None:
    grid = Grid.from_pandapower(pn.case14())
    assert grid.nodes["demand_kw"].sum() == pytest.approx(259_000.0)
    assert len(grid.lines) == 20 and grid.lines["reactance"].notna().all()
    assert grid.base_kva == 100_000.0
    assert list(grid.generators.index[:2]) == ["ext_grid 0", "gen 0"]

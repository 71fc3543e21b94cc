"""Objective phase of the dispatch model.

The weighted objective is in currency: ``w_cost * cost + w_renewable * R + w_stability * S`` where
``R`` values each kWh of non-renewable supply (grid import plus non-renewable generation) at the
reference price, and ``S`` values the peak of that supply over the horizon (as if held for every
hour) plus every kW of hour-to-hour ramp at the reference price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import cvxpy as cp
import numpy as np

if TYPE_CHECKING:
    from models.optimization.grid import Grid


class DispatchModel(Protocol):
    """What the objective phase reads of ``model.DispatchModel`` (kept here, so that the
    objective does not import the model that imports it)."""

    grid: Grid
    T: int
    var: dict[str, Any]
    terms: dict[str, Any]
    slacks: dict[str, list[tuple[cp.Variable, list[Any]]]]
    curtail: np.ndarray
    nonrenewable: np.ndarray

    @property
    def inp(self) -> Any:
        """The model's ``ModelInputs`` (prices, carbon, weights, reference price)."""

    def add(self, group: str, *constraints: cp.Constraint) -> None:
        """Register constraints under their group name."""

TIE_BREAK = 1e-6
"""Throughput penalty (times the reference price, per kWh) so that, when energy is worth nothing,
batteries and demand shifting rest instead of cycling; it never enters the reported cost."""



def cost_terms(m: DispatchModel) -> dict[str, Any]:
    """Named cost components in currency over the horizon (the reported cost is their sum)."""
    v, inp, gens = m.var, m.inp, m.grid.generators
    terms: dict[str, Any] = {}
    carbon: Any = 0
    if "import" in v:
        terms["energy"] = inp.import_price @ v["import"] - inp.export_price @ v["export"]
        carbon = inp.grid_carbon @ v["import"]
    if "gen" in v:
        gen = v["gen"]
        c1, c2 = gens["cost_linear"].to_numpy(), gens["cost_quadratic"].to_numpy()
        cost: Any = cp.sum(c1 @ gen) + m.T * gens["cost_fixed"].sum()
        quad = np.flatnonzero(c2 > 0)
        if len(quad):
            cost = cost + cp.sum_squares(cp.multiply(np.sqrt(c2[quad])[:, None], gen[quad, :]))
        cost = cost + _piecewise_cost(m)
        terms["generation"] = cost
        carbon = carbon + cp.sum(gens["carbon_g_per_kwh"].to_numpy() @ gen)
    if "curtail" in v:
        price = m.grid.nodes["dr_curtail_cost"].to_numpy()[m.curtail]
        terms["curtailment"] = cp.sum(price @ v["curtail"])
    if inp.carbon_price > 0 and not isinstance(carbon, int):
        terms["carbon"] = inp.carbon_price / 1000.0 * carbon
    if "unserved" in v:
        terms["unserved"] = inp.unserved_penalty * cp.sum(v["unserved"])
    m.terms["carbon_g"] = carbon
    return terms


def _piecewise_cost(m: DispatchModel) -> Any:
    """Epigraph of convex piecewise-linear costs: one row per (generator, segment)."""
    points = m.grid.generators["cost_points"].to_numpy()
    rows, slopes, intercepts = [], [], []
    for g, pts in enumerate(points):
        if pts is None:
            continue
        p = np.asarray(pts)
        slope = np.diff(p[:, 1]) / np.diff(p[:, 0])
        rows += [g] * len(slope)
        slopes += list(slope)
        intercepts += list(p[:-1, 1] - slope * p[:-1, 0])
    if not rows:
        return 0
    owners = np.unique(rows)
    z = cp.Variable((len(owners), m.T), name="pwl_cost")
    which = np.searchsorted(owners, rows)
    m.add("piecewise_cost", z[which, :] >= cp.multiply(np.array(slopes)[:, None],
                                                       m.var["gen"][rows, :])
          + np.array(intercepts)[:, None])
    return cp.sum(z)


def residual_supply(m: DispatchModel) -> Any:
    """Non-renewable supply per hour: grid import plus non-renewable generation (kW)."""
    r: Any = 0
    if "import" in m.var:
        r = m.var["import"]
    if "gen" in m.var and len(m.nonrenewable):
        r = r + cp.sum(m.var["gen"][m.nonrenewable, :], axis=0)
    return r


def weighted_objective(m: DispatchModel) -> Any:
    """Phase 3: w_cost·cost + w_renewable·R + w_stability·S + a tie-break on throughput."""
    w, p = m.inp.weights, m.inp.reference_price
    terms = cost_terms(m)
    m.terms["cost"] = terms
    objective: Any = w.cost * sum(terms.values()) if terms else 0
    r = residual_supply(m)
    if not isinstance(r, int):
        if w.renewable > 0:
            objective = objective + w.renewable * p * cp.sum(r)
        if w.stability > 0:
            ramp = cp.sum(cp.abs(cp.diff(r))) if m.T > 1 else 0
            objective = objective + w.stability * p * (m.T * cp.max(r) + ramp)
    throughput = [cp.sum(m.var[k]) for k in ("charge", "discharge", "shift_down", "shift_up")
                  if k in m.var]
    if throughput:
        objective = objective + TIE_BREAK * p * sum(throughput)
    return objective


def elastic_objective(m: DispatchModel) -> Any:
    """Total violation of the relaxed groups (kW or kWh), for diagnosing infeasibility."""
    return sum(cp.sum(s) for pairs in m.slacks.values() for s, _ in pairs)

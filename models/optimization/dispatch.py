"""Microgrid dispatch: ``optimize_dispatch`` builds the model (variables, constraint groups,
objective), solves it and reads the solution back into a ``Dispatch``.

Baseline for peak reduction: the unoptimised grid serves each hour's demand as it comes, using the
renewable generation available that hour, with no storage, no demand response and no local
dispatchable generation, so its residual load ``max(Σ demand − Σ renewable, 0)`` is all drawn from
non-renewable supply. The optimised peak is the largest hourly non-renewable supply (grid import
plus non-renewable generation). Peak reduction is the difference between the two.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.errors import SolveFailed
from models.optimization.grid import Grid
from models.optimization.inputs import prepare_inputs
from models.optimization.model import DispatchModel, ModelInputs, Weights, radial_angles
from models.optimization.solve import check_status, solve

BALANCE_TOLERANCE = 1e-6
"""Largest energy-balance residual (kWh, relative to the largest demand when above 1) accepted."""


@dataclass(frozen=True)
class Dispatch:
    """An optimal plan: frames are indexed by hour, power in kW (energy per hour in kWh)."""

    flows: pd.DataFrame               # hour × line "from->to", positive from -> to
    grid_import: pd.Series
    grid_export: pd.Series
    generation: pd.DataFrame          # hour × generator
    renewable_spilled: pd.DataFrame   # hour × node, renewable generation not used
    storage_charge: pd.DataFrame      # hour × storage node (grid side, before losses)
    storage_discharge: pd.DataFrame
    state_of_charge: pd.DataFrame     # hour × storage node, kWh at the end of the hour
    demand_shift: pd.DataFrame        # hour × node, load moved in (+) or out (−)
    demand_curtailed: pd.DataFrame
    unserved: pd.DataFrame            # hour × node, non-zero only with an unserved penalty
    served_demand: pd.DataFrame       # hour × node, demand after demand response
    nodal_prices: pd.DataFrame        # hour × node, currency per kWh (−balance dual / w_cost)
    total_cost: float
    cost_breakdown: dict[str, float]
    renewable_share: float            # renewable kWh used / (renewable used + non-renewable)
    carbon_kg: float
    peak_kw: float                    # largest hourly non-renewable supply
    baseline_peak_kw: float
    peak_reduction_kw: float
    peak_reduction_pct: float
    objective: float
    status: str
    solver: str
    build_seconds: float
    solve_seconds: float
    angles: pd.DataFrame | None = None  # hour × node, radians (DC power flow only)
    demand_moves: pd.DataFrame = field(default_factory=pd.DataFrame)  # node, from/to hour, kwh

    def summary(self) -> dict[str, Any]:
        """The figures reported on chain and printed by the CLI."""
        return {"total_cost": self.total_cost, "renewable_share": self.renewable_share,
                "carbon_kg": self.carbon_kg, "peak_kw": self.peak_kw,
                "baseline_peak_kw": self.baseline_peak_kw,
                "peak_reduction_kw": self.peak_reduction_kw,
                "peak_reduction_pct": self.peak_reduction_pct,
                "cost_breakdown": dict(self.cost_breakdown), "status": self.status,
                "solver": self.solver}


def optimize_dispatch(grid: Grid, demand: pd.DataFrame | None = None,
                      generation: pd.DataFrame | None = None,
                      prices: float | pd.Series | pd.DataFrame | None = None, horizon: int = 24,
                      *, weights: Weights | None = None, carbon_price: float = 0.0,
                      unserved_penalty: float | None = None,
                      reference_price: float | None = None,
                      solver: str | None = None) -> Dispatch:
    """Optimal hourly dispatch of ``grid`` over ``horizon`` hours.

    ``demand``/``generation``: hour × node frames (kW; missing nodes are 0; ``demand=None`` uses
    ``nodes.demand_kw`` every hour). ``prices``: import price (number or Series) or a frame with
    ``import``, ``export``, ``carbon_g_per_kwh`` columns; defaults come from the connection.
    ``carbon_price`` is per kg CO2. With ``unserved_penalty`` (per kWh) unmet demand is reported
    instead of raising. Raises ``InvalidInput`` for bad data and ``SolveFailed`` otherwise.
    """
    start = time.perf_counter()
    inputs = prepare_inputs(grid, demand, generation, prices, horizon,
                            weights=weights or Weights(), carbon_price=carbon_price,
                            unserved_penalty=unserved_penalty, reference_price=reference_price)
    model = DispatchModel(grid, inputs)
    problem = model.build()
    build_seconds = time.perf_counter() - start
    status, used, solve_seconds = solve(problem, solver)
    check_status(status, used, grid, inputs)
    return read_back(model, inputs, float(problem.value), status, used, build_seconds,
                     solve_seconds)


def read_back(model: DispatchModel, inputs: ModelInputs, objective: float, status: str,
              solver: str, build_seconds: float, solve_seconds: float) -> Dispatch:
    """Phase 5: variable values into frames, then the summary figures."""
    grid, idx, T = model.grid, inputs.index, model.T
    nodes = grid.node_ids
    v = {k: np.asarray(getattr(var, "value", var), dtype=float) for k, var in model.var.items()
         if getattr(var, "value", var) is not None}
    if len(v) != len(model.var):
        raise SolveFailed("dispatch: the solver returned no values for some variables",
                          status=status)

    def node_frame(key: str, rows: np.ndarray) -> pd.DataFrame:
        full = np.zeros((model.N, T))
        if key in v:
            full[rows, :] = v[key]
        return pd.DataFrame(full.T, index=idx, columns=nodes)

    def frame(key: str, columns: list[Any], width: int | None = None) -> pd.DataFrame:
        data = v[key][:, :width] if key in v else np.zeros((len(columns), T))
        return pd.DataFrame(data.T, index=idx, columns=columns)

    storage_ids = [nodes[i] for i in model.storage]
    shift = node_frame("shift_up", model.shift) - node_frame("shift_down", model.shift)
    curtailed = node_frame("curtail", model.curtail)
    unserved = node_frame("unserved", np.arange(model.N))
    served = pd.DataFrame(inputs.demand.T, index=idx, columns=nodes) + shift - curtailed
    zeros = pd.Series(np.zeros(T), index=idx)
    soc = v["soc"][:, 1:] if "soc" in v else np.zeros((0, T))
    dispatch_frames = {
        "flows": frame("flow", [_label(r) for _, r in grid.lines.iterrows()]),
        "grid_import": pd.Series(v["import"], index=idx) if "import" in v else zeros,
        "grid_export": pd.Series(v["export"], index=idx) if "export" in v else zeros,
        "generation": frame("gen", list(grid.generators.index)),
        "renewable_spilled": node_frame("spill", model.pv_nodes),
        "storage_charge": frame("charge", storage_ids),
        "storage_discharge": frame("discharge", storage_ids),
        "state_of_charge": pd.DataFrame(soc.T, index=idx, columns=storage_ids),
        "demand_shift": shift, "demand_curtailed": curtailed, "unserved": unserved,
        "served_demand": served,
    }
    _check_balance(model, inputs)
    figures = _figures(model, inputs, v, dispatch_frames)
    angles = None
    if "theta" in v:
        angles = pd.DataFrame(v["theta"].T / grid.base_kva, index=idx, columns=nodes)
    elif len(model.dc):  # radial DC network: angles follow from the flows
        angles = pd.DataFrame(radial_angles(model, v["flow"]).T, index=idx, columns=nodes)
    return Dispatch(**dispatch_frames, **figures, objective=objective, status=status,
                    solver=solver, build_seconds=build_seconds, solve_seconds=solve_seconds,
                    angles=angles, demand_moves=_moves(model, idx))


def _moves(model: DispatchModel, idx: pd.Index) -> pd.DataFrame:
    """Every load move as (node, from_hour, to_hour, kwh), largest first."""
    parts = []
    for k, rows, later, earlier in model.moves:
        for var, step in ((later, k), (earlier, -k)):
            values = np.asarray(var.value, dtype=float)
            r, t = np.nonzero(values > 1e-6)
            start = t if step > 0 else t + k
            parts.append(pd.DataFrame({
                "node": np.asarray(model.grid.node_ids, dtype=object)[model.shift[rows[r]]],
                "from_hour": idx[start], "to_hour": idx[start + step], "kwh": values[r, t]}))
    columns = ["node", "from_hour", "to_hour", "kwh"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    return frame.sort_values("kwh", ascending=False, ignore_index=True)


def _check_balance(model: DispatchModel, inputs: ModelInputs) -> None:
    """Never hand back a plan whose nodal balance does not close (e.g. an inaccurate solve)."""
    assert model.balance is not None
    residual = float(np.max(np.abs(model.balance.residual)))
    scale = max(1.0, float(np.max(np.abs(inputs.demand), initial=0.0)))
    if residual > BALANCE_TOLERANCE * scale:
        raise SolveFailed(f"dispatch: nodal balance residual {residual:.3g} kWh exceeds "
                          f"{BALANCE_TOLERANCE * scale:.3g}; the solver result is not usable",
                          status="inaccurate", binding="nodal_balance")


def _figures(model: DispatchModel, inputs: ModelInputs, v: dict[str, np.ndarray],
             frames: dict[str, Any]) -> dict[str, Any]:
    """Cost, renewable share, carbon, peaks and nodal prices from the solved model."""
    costs = {k: float(np.asarray(expr.value)) for k, expr in model.terms["cost"].items()}
    nonrenewable = frames["grid_import"].to_numpy().copy()
    renewable_gen = 0.0
    if "gen" in v:
        renewable = np.ones(len(model.grid.generators), dtype=bool)
        renewable[model.nonrenewable] = False
        nonrenewable += v["gen"][model.nonrenewable, :].sum(axis=0)
        renewable_gen = float(v["gen"][renewable, :].sum())
    renewable_used = float(inputs.pv.sum() - frames["renewable_spilled"].to_numpy().sum())
    renewable_used += renewable_gen
    supplied = renewable_used + float(nonrenewable.sum())
    carbon = model.terms["carbon_g"]
    carbon_g = 0.0 if isinstance(carbon, int) else float(np.asarray(carbon.value))
    baseline = np.maximum(inputs.demand.sum(axis=0) - inputs.pv.sum(axis=0), 0.0)
    peak, base_peak = float(nonrenewable.max(initial=0.0)), float(baseline.max(initial=0.0))
    assert model.balance is not None  # built with the model
    duals: np.ndarray = np.asarray(model.balance.dual_value, dtype=np.float64).reshape(model.N, model.T)
    prices = pd.DataFrame(-duals.T / inputs.weights.cost, index=inputs.index,
                          columns=model.grid.node_ids)
    return {
        "total_cost": float(sum(costs.values())), "cost_breakdown": costs,
        "renewable_share": renewable_used / supplied if supplied > 0 else float("nan"),
        "carbon_kg": carbon_g / 1000.0, "peak_kw": peak, "baseline_peak_kw": base_peak,
        "peak_reduction_kw": base_peak - peak,
        "peak_reduction_pct": 100.0 * (base_peak - peak) / base_peak if base_peak > 0
        else float("nan"),
        "nodal_prices": prices,
    }


def _label(row: pd.Series) -> str:
    return f"{row['from']}->{row['to']}"

"""The dispatch model, built in PyPSA's phases: variables, constraints (one function per named
group), objective. Every quantity is a node×hour (or element×hour) cvxpy matrix; the network enters
through sparse incidence and selection matrices, never through per-scalar loops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import spsolve

from models.errors import InvalidInput
from models.optimization.grid import Grid
from models.optimization.objective import elastic_objective, weighted_objective


@dataclass(frozen=True)
class Weights:
    """Objective weights; the seed configures cost 0.6, renewable use 0.3, grid stability 0.1."""

    cost: float = 0.6
    renewable: float = 0.3
    stability: float = 0.1

    def __post_init__(self) -> None:
        for name in ("cost", "renewable", "stability"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidInput(f"weights.{name} must be a finite number >= 0, got {value!r}",
                                   field=f"weights.{name}", value=value)
        if self.cost <= 0:
            raise InvalidInput(f"weights.cost must be > 0 (nodal prices are read per unit of "
                               f"cost), got {self.cost}", field="weights.cost", value=self.cost)


@dataclass(frozen=True)
class ModelInputs:
    """Checked numeric inputs for one horizon: node×hour demand and renewable generation, prices."""

    index: pd.Index
    demand: np.ndarray
    pv: np.ndarray
    import_price: np.ndarray
    export_price: np.ndarray
    grid_carbon: np.ndarray
    weights: Weights
    carbon_price: float
    unserved_penalty: float | None
    reference_price: float


TINY = 1e-12
"""Variable bounds smaller than this (in units of the power scale) are taken as 0: interior
point solvers handle a box of width 1e-16 badly."""


def _select(n: int, positions: np.ndarray) -> sp.csr_matrix:
    """n×k matrix mapping k elements onto the n nodes they sit at."""
    k = len(positions)
    return sp.csr_matrix((np.ones(k), (positions, np.arange(k))), shape=(n, k))


class DispatchModel:
    """Variables and named constraint groups for one grid and horizon.

    ``relax`` names groups that get non-negative slacks (used to find which group makes a problem
    infeasible); their sum is then the objective.
    """

    RELAXABLE = ("line_limits", "grid_connection_limits", "generator_limits",
                 "storage_soc_bounds", "storage_final_soc", "nodal_balance")

    def __init__(self, grid: Grid, inputs: ModelInputs, relax: frozenset[str] = frozenset()):
        self.grid, self.inp, self.relax = grid, inputs, relax
        self.N, self.T = inputs.demand.shape
        nodes, gens, lines = grid.nodes, grid.generators, grid.lines
        pos = {node: i for i, node in enumerate(grid.node_ids)}
        self.storage = np.flatnonzero((nodes["storage_kwh"] > 0) & (nodes["storage_kw"] > 0))
        self.shift = np.flatnonzero((nodes["dr_shift_kw"] > 0) & (nodes["dr_window_h"] >= 1))
        self.curtail = np.flatnonzero(nodes["dr_curtail_kw"] > 0)
        self.pv_nodes = np.flatnonzero(inputs.pv.max(axis=1) > 0)
        self.gen_nodes = np.array([pos[n] for n in gens["node"]], dtype=int)
        self.nonrenewable = np.flatnonzero(~gens["renewable"].to_numpy(dtype=bool))
        frm = np.array([pos[n] for n in lines["from"]], dtype=int)
        to = np.array([pos[n] for n in lines["to"]], dtype=int)
        L = len(lines)
        self.incidence = sp.csr_matrix(
            (np.r_[np.ones(L), -np.ones(L)], (np.r_[np.arange(L), np.arange(L)], np.r_[frm, to])),
            shape=(L, self.N))
        self.dc = np.flatnonzero(lines["reactance"].notna().to_numpy())
        self.dc_islands = _islands(self.incidence[self.dc])
        # On a radial (forest) DC network any flow has angles that carry it, so angles and the
        # DC equations are dropped from the model and recovered from the flows afterwards.
        self.dc_radial = len(self.dc) == self.N - self.dc_islands[0]
        self.var: dict[str, Any] = {}
        self.groups: dict[str, list[cp.Constraint]] = {}
        self.slacks: dict[str, list[tuple[cp.Variable, list[Any]]]] = {}
        self.terms: dict[str, Any] = {}
        self.balance: cp.Constraint | None = None
        self.scale = _power_scale(grid, inputs)
        self.moves: list[tuple[int, np.ndarray, Any, Any]] = []

    def add(self, group: str, *constraints: cp.Constraint) -> None:
        """Register constraints under their group name."""
        self.groups.setdefault(group, []).extend(constraints)

    def slack(self, group: str, shape: tuple[int, ...], labels: list[Any]) -> Any:
        """A non-negative slack when ``group`` is relaxed, else 0."""
        if group not in self.relax:
            return 0
        s = cp.Variable(shape, nonneg=True)
        self.slacks.setdefault(group, []).append((s, labels))
        return self.scale * s

    def build(self) -> cp.Problem:
        """All phases: variables, every constraint group, objective."""
        add_variables(self)
        for constrain in CONSTRAINT_GROUPS:
            constrain(self)
        objective = elastic_objective(self) if self.relax else weighted_objective(self)
        constraints = [c for group in self.groups.values() for c in group]
        return cp.Problem(cp.Minimize(objective), constraints)


def add_variables(m: DispatchModel) -> None:
    """Phase 1: one matrix variable per kind of decision (rows are elements, columns hours).

    Power variables are stored as ``scale × Variable`` so that the solver sees values of order 1
    whatever the grid's size (kW households or MW transmission cases). Simple limits are variable
    bounds (the solver handles them without constraint rows) unless their group is relaxed."""
    T, g, v, nodes = m.T, m.grid, m.var, m.grid.nodes

    def new(name: str, shape: tuple[int, ...] | int, lb: Any = None, ub: Any = None) -> Any:
        return m.scale * _bounded(name, shape, m.scale, lb, ub)

    def unless(group: str, limit: Any) -> Any:
        return None if group in m.relax else limit

    if g.connection is not None:
        conn = g.connection
        v["import"] = new("import", T, 0.0, unless("grid_connection_limits", conn.import_limit_kw))
        v["export"] = new("export", T, 0.0, unless("grid_connection_limits", conn.export_limit_kw))
    if len(g.generators):
        gens = g.generators
        v["gen"] = new("gen", (len(gens), T), unless("generator_limits", gens["p_min_kw"]),
                       unless("generator_limits", gens["p_max_kw"]))
    if len(g.lines):
        cap = unless("line_limits", g.lines["capacity_kw"].to_numpy())
        v["flow"] = new("flow", (len(g.lines), T), None if cap is None else -cap, cap)
    if len(m.dc) and not m.dc_radial:
        v["theta"] = new("theta_scaled", (m.N, T))  # base_kva × angle (rad)
    if len(m.storage):
        kw = nodes["storage_kw"].to_numpy()[m.storage]
        v["charge"] = new("charge", (len(m.storage), T), 0.0, kw)
        v["discharge"] = new("discharge", (len(m.storage), T), 0.0, kw)
        v["soc"] = new("soc", (len(m.storage), T + 1), *_soc_bounds(m))
    if len(m.pv_nodes):
        v["spill"] = new("spill", (len(m.pv_nodes), T), 0.0, m.inp.pv[m.pv_nodes, :])
    if len(m.shift):
        _add_demand_moves(m, new)
    if len(m.curtail):  # never more than the node's demand that hour
        kw = nodes["dr_curtail_kw"].to_numpy()[m.curtail][:, None]
        v["curtail"] = new("curtail", (len(m.curtail), T), 0.0,
                           np.minimum(kw, m.inp.demand[m.curtail, :]))
    if m.inp.unserved_penalty is not None:
        v["unserved"] = new("unserved", (m.N, T), 0.0)


def _bounded(name: str, shape: tuple[int, ...] | int, scale: float, lb: Any, ub: Any) -> Any:
    """A variable in units of ``scale`` with bounds given in kW (``None``: unbounded side)."""
    if lb is None and ub is None:
        return cp.Variable(shape, name=name)
    shape = (shape,) if isinstance(shape, int) else shape

    def side(limit: Any, default: float) -> np.ndarray:
        if limit is None:
            return np.full(shape, default)
        arr = np.asarray(limit, dtype=float)
        if arr.ndim == 1 and len(shape) == 2:
            arr = arr[:, None]
        arr = np.broadcast_to(arr / scale, shape).copy()
        arr[np.abs(arr) < TINY] = 0.0  # round-off (e.g. sin(π) of a PV profile) is no bound
        return arr

    if ub is not None and np.all(np.isposinf(np.asarray(ub, dtype=float))):
        ub = None
    if ub is None and np.all(np.asarray(lb) == 0):
        return cp.Variable(shape, name=name, nonneg=True)
    return cp.Variable(shape, name=name, bounds=[side(lb, -np.inf), side(ub, np.inf)])


def _soc_bounds(m: DispatchModel) -> tuple[np.ndarray, np.ndarray]:
    """State of charge bounds (kWh): fixed at the initial value in column 0, within
    [soc_min, soc_max]·capacity after (unbounded when ``storage_soc_bounds`` is relaxed)."""
    nodes = m.grid.nodes.iloc[m.storage]
    cap = nodes["storage_kwh"].to_numpy()
    init = (nodes["soc_initial"] * nodes["storage_kwh"]).to_numpy()
    if "storage_soc_bounds" in m.relax:
        lo, hi = np.full(len(cap), -np.inf), np.full(len(cap), np.inf)
    else:
        lo, hi = nodes["soc_min"].to_numpy() * cap, nodes["soc_max"].to_numpy() * cap
    lower = np.c_[init, np.repeat(lo[:, None], m.T, axis=1)]
    upper = np.c_[init, np.repeat(hi[:, None], m.T, axis=1)]
    return lower, upper


def constrain_nodal_balance(m: DispatchModel) -> None:
    """Supply equals demand at every node and hour; its duals are the nodal prices."""
    v, N, T = m.var, m.N, m.T
    supply: Any = m.inp.pv.copy()
    load: Any = 0
    if "spill" in v:
        supply = supply - _select(N, m.pv_nodes) @ v["spill"]
    if "gen" in v:
        supply = supply + _select(N, m.gen_nodes) @ v["gen"]
    if "charge" in v:
        supply = supply + _select(N, m.storage) @ (v["discharge"] - v["charge"])
    if "import" in v:
        at = np.zeros((N, 1))
        assert m.grid.connection is not None  # "import" exists only with a connection
        at[m.grid.node_ids.index(m.grid.connection.node), 0] = 1.0
        supply = supply + at @ cp.reshape(v["import"] - v["export"], (1, T), order="C")
    if "flow" in v:
        supply = supply - m.incidence.T @ v["flow"]
    if "shift_down" in v:
        load = load + _select(N, m.shift) @ (v["shift_up"] - v["shift_down"])
    if "curtail" in v:
        load = load - _select(N, m.curtail) @ v["curtail"]
    if "unserved" in v:
        supply = supply + v["unserved"]
    short = m.slack("nodal_balance", (N, T), m.grid.node_ids)
    surplus = m.slack("nodal_balance", (N, T), m.grid.node_ids)
    m.balance = supply - load + short - surplus == m.inp.demand
    m.add("nodal_balance", m.balance)


def constrain_line_limits(m: DispatchModel) -> None:
    """|flow| <= capacity on every line with a finite capacity (flow bounds unless relaxed)."""
    if "flow" not in m.var or "line_limits" not in m.relax:
        return
    cap = m.grid.lines["capacity_kw"].to_numpy()
    finite = np.flatnonzero(np.isfinite(cap))
    if len(finite) == 0:
        return
    labels = [_line_label(m.grid, int(i)) for i in finite]
    flow = m.var["flow"][finite, :]
    limit = cap[finite][:, None]
    m.add("line_limits",
          flow <= limit + m.slack("line_limits", (len(finite), m.T), labels),
          -flow <= limit + m.slack("line_limits", (len(finite), m.T), labels))


def constrain_dc_power_flow(m: DispatchModel) -> None:
    """Lines with a reactance carry b·(θ_from − θ_to − shift); one angle per island is 0."""
    if not len(m.dc) or m.dc_radial:
        return
    lines = m.grid.lines.iloc[m.dc]
    theta = m.var["theta"]
    b = 1.0 / lines["reactance"].to_numpy()
    shift = (lines["shift_rad"].to_numpy() * m.grid.base_kva)[:, None]
    a = m.incidence[m.dc]
    m.add("dc_power_flow", m.var["flow"][m.dc, :] == sp.diags(b) @ (a @ theta - shift))
    m.add("dc_power_flow", theta[m.dc_islands[1], :] == 0)


def constrain_storage_dynamics(m: DispatchModel) -> None:
    """SoC(t+1) = SoC(t) + η_c·charge − discharge/η_d (SoC(0), the initial state of charge, is
    fixed by the variable's bounds, as are the converter ratings on charge and discharge)."""
    if "soc" not in m.var:
        return
    nodes = m.grid.nodes.iloc[m.storage]
    eta_c = nodes["charge_efficiency"].to_numpy()[:, None]
    eta_d = nodes["discharge_efficiency"].to_numpy()[:, None]
    soc, c, d = m.var["soc"], m.var["charge"], m.var["discharge"]
    m.add("storage_dynamics",
          soc[:, 1:] == soc[:, :-1] + cp.multiply(eta_c, c) - cp.multiply(1.0 / eta_d, d))


def constrain_storage_soc_bounds(m: DispatchModel) -> None:
    """soc_min·capacity <= SoC <= soc_max·capacity at the end of every hour (bounds unless
    relaxed)."""
    if "soc" not in m.var or "storage_soc_bounds" not in m.relax:
        return
    nodes = m.grid.nodes.iloc[m.storage]
    cap = nodes["storage_kwh"].to_numpy()[:, None]
    soc = m.var["soc"][:, 1:]
    labels = list(nodes.index)
    shape = (len(m.storage), m.T)
    m.add("storage_soc_bounds",
          soc >= nodes["soc_min"].to_numpy()[:, None] * cap
          - m.slack("storage_soc_bounds", shape, labels),
          soc <= nodes["soc_max"].to_numpy()[:, None] * cap
          + m.slack("storage_soc_bounds", shape, labels))


def constrain_storage_final_soc(m: DispatchModel) -> None:
    """The state of charge ends the horizon where asked (``soc_final``, default the initial)."""
    if "soc" not in m.var:
        return
    nodes = m.grid.nodes.iloc[m.storage]
    target = (nodes["soc_final"] * nodes["storage_kwh"]).to_numpy()
    labels = list(nodes.index)
    n = len(m.storage)
    m.add("storage_final_soc", m.var["soc"][:, m.T] + m.slack("storage_final_soc", (n,), labels)
          - m.slack("storage_final_soc", (n,), labels) == target)


def constrain_generator_limits(m: DispatchModel) -> None:
    """p_min <= output <= p_max for every generator and hour (bounds unless relaxed)."""
    if "gen" not in m.var or "generator_limits" not in m.relax:
        return
    gens = m.grid.generators
    shape, labels = (len(gens), m.T), list(gens.index)
    gen = m.var["gen"]
    m.add("generator_limits",
          gen >= gens["p_min_kw"].to_numpy()[:, None] - m.slack("generator_limits", shape, labels),
          gen <= gens["p_max_kw"].to_numpy()[:, None] + m.slack("generator_limits", shape, labels))


def constrain_grid_connection_limits(m: DispatchModel) -> None:
    """Import and export within the connection's limits (bounds unless relaxed)."""
    conn = m.grid.connection
    if conn is None or "grid_connection_limits" not in m.relax:
        return
    for key, limit in (("import", conn.import_limit_kw), ("export", conn.export_limit_kw)):
        if math.isfinite(limit):
            s = m.slack("grid_connection_limits", (m.T,), [f"{key} at {conn.node}"])
            m.add("grid_connection_limits", m.var[key] <= limit + s)


def constrain_demand_response_limits(m: DispatchModel) -> None:
    """Shifted and curtailed load within each node's limits and never above its demand (the
    window and energy neutrality of shifting are built into the move variables; curtailment's
    limits are its variable's bounds)."""
    v = m.var
    if "shift_down" not in v:
        return
    kw = m.grid.nodes["dr_shift_kw"].to_numpy()[m.shift][:, None]
    m.add("demand_response_limits", v["shift_down"] <= kw, v["shift_up"] <= kw)
    reducible = v["shift_down"]
    both = np.flatnonzero(np.isin(m.shift, m.curtail))
    if len(both):  # shifted-out plus curtailed load at nodes that have both
        pick = sp.csr_matrix((np.ones(len(both)), (both, np.searchsorted(m.curtail,
                                                                         m.shift[both]))),
                             shape=(len(m.shift), len(m.curtail)))
        reducible = reducible + pick @ v["curtail"]
    m.add("demand_response_limits", reducible <= m.inp.demand[m.shift, :])


def _add_demand_moves(m: DispatchModel, new: Any) -> None:
    """Load moved ``k`` hours later or earlier (1 <= k <= the node's window): one matrix per
    offset, so shifting is energy-neutral and within the window by construction."""
    T = m.T
    windows = np.minimum(m.grid.nodes["dr_window_h"].to_numpy()[m.shift].astype(int), T - 1)
    down: Any = 0
    up: Any = 0
    for k in range(1, int(windows.max(initial=0)) + 1):
        rows = np.flatnonzero(windows >= k)
        sel = _select(len(m.shift), rows)
        at_start = sp.eye(T - k, T, k=0, format="csr")   # column τ -> hour τ
        at_end = sp.eye(T - k, T, k=k, format="csr")     # column τ -> hour τ + k
        later = new(f"move_later_{k}", (len(rows), T - k), 0.0)      # τ -> τ + k
        earlier = new(f"move_earlier_{k}", (len(rows), T - k), 0.0)  # τ + k -> τ
        m.moves.append((k, rows, later, earlier))
        down = down + sel @ (later @ at_start + earlier @ at_end)
        up = up + sel @ (later @ at_end + earlier @ at_start)
    if isinstance(down, int):  # every window is 0 hours: nothing can move
        down = up = np.zeros((len(m.shift), T))
    m.var["shift_down"], m.var["shift_up"] = down, up


CONSTRAINT_GROUPS = (
    constrain_nodal_balance, constrain_line_limits, constrain_dc_power_flow,
    constrain_storage_dynamics, constrain_storage_soc_bounds, constrain_storage_final_soc,
    constrain_generator_limits, constrain_grid_connection_limits, constrain_demand_response_limits,
)


def _power_scale(grid: Grid, inputs: ModelInputs) -> float:
    """Typical power magnitude (kW): the largest nodal demand, renewable output or storage rating."""
    return max(1.0, float(np.abs(inputs.demand).max(initial=0.0)),
               float(inputs.pv.max(initial=0.0)),
               float(grid.nodes["storage_kw"].max()))


def _islands(incidence: sp.csr_matrix) -> tuple[int, np.ndarray]:
    """Number of islands the lines of ``incidence`` leave, and one reference node in each."""
    _, island = connected_components(abs(incidence.T @ incidence), directed=False)
    refs = np.unique(island, return_index=True)[1]
    return len(refs), refs


def radial_angles(m: DispatchModel, flow: np.ndarray) -> np.ndarray:
    """Voltage angles (rad, node × hour) that carry ``flow`` on a radial DC network:
    b·(θ_from − θ_to − shift) = flow on every DC line and θ = 0 at each island's reference."""
    lines = m.grid.lines.iloc[m.dc]
    b = 1.0 / lines["reactance"].to_numpy()
    shift = lines["shift_rad"].to_numpy()[:, None]
    refs = m.dc_islands[1]
    pin = sp.csr_matrix((np.ones(len(refs)), (np.arange(len(refs)), refs)), shape=(len(refs), m.N))
    system = sp.vstack([m.incidence[m.dc], pin]).tocsc()   # square and nonsingular on a forest
    rhs = np.r_[flow[m.dc, :] / b[:, None] / m.grid.base_kva + shift, np.zeros((len(refs), m.T))]
    return np.asarray(spsolve(system, rhs)).reshape(m.N, m.T)


def _line_label(grid: Grid, i: int) -> str:
    row = grid.lines.iloc[i]
    return f"{row['from']}->{row['to']}"

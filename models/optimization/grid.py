"""The microgrid a dispatch is optimised on: nodes, lines, generators and the main-grid connection.

Units follow the design: power in kW, energy in kWh, prices in currency per kWh, carbon in g/kWh.
Storage state of charge is given as a fraction of capacity (0..1). A line with a ``reactance``
obeys DC power flow; a line without one (NaN) is a capacity-limited transfer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput

NODE_DEFAULTS: dict[str, float] = {
    "demand_kw": 0.0,              # static load, used when no demand profile is given
    "storage_kwh": 0.0,            # usable capacity
    "storage_kw": 0.0,             # charge and discharge power limit
    "charge_efficiency": 0.95,
    "discharge_efficiency": 0.95,
    "soc_initial": 0.5,            # fraction of capacity at the start of the horizon
    "soc_final": math.nan,         # fraction required at the end; NaN means "same as initial"
    "soc_min": 0.0,
    "soc_max": 1.0,
    "dr_shift_kw": 0.0,            # load that may be moved per hour (down or up)
    "dr_window_h": 4.0,            # deferred/advanced load is recovered within this many hours
    "dr_curtail_kw": 0.0,          # load that may be shed per hour
    "dr_curtail_cost": 1.0,        # currency per kWh shed
}
LINE_DEFAULTS: dict[str, float] = {"capacity_kw": math.inf, "reactance": math.nan,
                                   "shift_rad": 0.0}
GENERATOR_DEFAULTS: dict[str, Any] = {
    "p_min_kw": 0.0, "cost_linear": 0.0, "cost_quadratic": 0.0, "cost_fixed": 0.0,
    "carbon_g_per_kwh": 0.0, "renewable": False, "cost_points": None,
}


@dataclass(frozen=True)
class GridConnection:
    """The point of common coupling with the main grid: default prices, limits and carbon."""

    node: Any
    import_price: float
    export_price: float = 0.0
    import_limit_kw: float = math.inf
    export_limit_kw: float = math.inf
    carbon_g_per_kwh: float = 0.0

    def __post_init__(self) -> None:
        for name in ("import_price", "export_price", "carbon_g_per_kwh"):
            _finite(f"connection.{name}", None, getattr(self, name))
        for name in ("import_limit_kw", "export_limit_kw"):
            _nonnegative(f"connection.{name}", None, getattr(self, name), allow_inf=True)
        if self.export_price > self.import_price:
            raise InvalidInput(
                f"connection.export_price {self.export_price} exceeds import_price "
                f"{self.import_price}: the plan would import to export without bound",
                field="connection.export_price", value=self.export_price)


@dataclass(frozen=True)
class Grid:
    """Nodes (index = node id), lines (``from``, ``to``), generators (``node``, ``p_max_kw``).

    Missing columns (and missing values, NaN) take the defaults in ``NODE_DEFAULTS``,
    ``LINE_DEFAULTS`` and ``GENERATOR_DEFAULTS``; every value is checked and a bad one raises
    ``InvalidInput``.
    ``base_kva`` is the per-unit base of line reactances.
    """

    nodes: pd.DataFrame
    lines: pd.DataFrame = field(default_factory=pd.DataFrame)
    generators: pd.DataFrame = field(default_factory=pd.DataFrame)
    connection: GridConnection | None = None
    base_kva: float = 1000.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _check_nodes(self.nodes))
        ids = set(self.nodes.index)
        object.__setattr__(self, "lines", _check_lines(self.lines, ids))
        object.__setattr__(self, "generators", _check_generators(self.generators, ids))
        if self.connection is not None and self.connection.node not in ids:
            raise InvalidInput(f"connection.node {self.connection.node!r} is not a node of the grid",
                               field="connection.node", value=self.connection.node)
        if not (math.isfinite(self.base_kva) and self.base_kva > 0):
            raise InvalidInput(f"base_kva must be positive, got {self.base_kva}",
                               field="base_kva", value=self.base_kva)

    @property
    def node_ids(self) -> list[Any]:
        """Node ids in model order."""
        return list(self.nodes.index)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Grid:
        """Build from the backend's ``/api/v1/grid`` document (see ``oracle model optimize``)."""
        if not isinstance(doc, dict) or "nodes" not in doc:
            raise InvalidInput("grid document needs a 'nodes' list", field="nodes", value=None)
        nodes = pd.DataFrame(doc["nodes"])
        if "node_id" not in nodes.columns:
            raise InvalidInput("every node needs a 'node_id'", field="nodes.node_id", value=None)
        nodes = nodes.set_index("node_id")
        lines = pd.DataFrame(doc.get("lines", []))
        generators = pd.DataFrame(doc.get("generators", []))
        conn = doc.get("connection")
        if conn is None and "import_price" in doc:
            conn = {k: doc[k] for k in ("import_price", "export_price", "carbon_g_per_kwh",
                                       "import_limit_kw", "export_limit_kw") if k in doc}
        connection = None
        if conn is not None:
            conn = dict(conn)
            conn.setdefault("node", doc.get("connection_node", nodes.index[0]))
            try:
                connection = GridConnection(**conn)
            except TypeError as err:
                raise InvalidInput(f"connection: {err}", field="connection", value=conn) from err
        return cls(nodes=nodes, lines=lines, generators=generators, connection=connection,
                   base_kva=float(doc.get("base_kva", 1000.0)))

    @classmethod
    def from_pandapower(cls, net: Any) -> Grid:
        """Import a pandapower (or MATPOWER-converted) case with its poly/pwl generator costs."""
        from models.optimization.pandapower_import import grid_tables_from_pandapower

        return cls(**grid_tables_from_pandapower(net))


def _fill(frame: pd.DataFrame, defaults: dict[str, Any]) -> pd.DataFrame:
    frame = frame.copy()
    for col, value in defaults.items():
        if col not in frame.columns:
            frame[col] = [value] * len(frame) if value is None else value
        elif value is not None:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), value)
    return frame


def _check_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(nodes, pd.DataFrame) or len(nodes.index) == 0:
        raise InvalidInput("grid needs at least one node", field="nodes", value=None)
    if nodes.index.has_duplicates:
        dup = nodes.index[nodes.index.duplicated()][0]
        raise InvalidInput(f"nodes: duplicate node id {dup!r}", field="nodes.node_id", row=dup,
                           value=dup)
    given_final = nodes["soc_final"] if "soc_final" in nodes.columns else None
    out = _fill(nodes, {k: v for k, v in NODE_DEFAULTS.items() if k != "soc_final"})
    out["soc_final"] = np.nan if given_final is None else given_final
    out = _numeric(out, list(NODE_DEFAULTS), "nodes", allow_nan={"soc_final"})
    out["soc_final"] = out["soc_final"].fillna(out["soc_initial"])
    for col in ("demand_kw", "storage_kwh", "storage_kw", "dr_shift_kw", "dr_curtail_kw", "dr_curtail_cost",
                "dr_window_h"):
        _column_nonnegative(out, col, "nodes")
    for col in ("charge_efficiency", "discharge_efficiency"):
        bad = out.index[(out[col] <= 0) | (out[col] > 1)]
        if len(bad):
            raise InvalidInput(f"nodes.{col} must be in (0, 1], got {out.at[bad[0], col]} at node "
                               f"{bad[0]!r}", field=f"nodes.{col}", row=bad[0],
                               value=out.at[bad[0], col])
    for col in ("soc_initial", "soc_final", "soc_min", "soc_max"):
        lo = 0.0 if col in ("soc_min", "soc_max") else out["soc_min"]
        hi = 1.0 if col in ("soc_min", "soc_max") else out["soc_max"]
        bad = out.index[(out[col] < lo - 1e-12) | (out[col] > hi + 1e-12)]
        if len(bad):
            raise InvalidInput(f"nodes.{col} = {out.at[bad[0], col]} at node {bad[0]!r} is outside "
                               "[soc_min, soc_max] within [0, 1]", field=f"nodes.{col}",
                               row=bad[0], value=out.at[bad[0], col])
    return out


def _check_lines(lines: pd.DataFrame, ids: set[Any]) -> pd.DataFrame:
    if lines is None or len(lines) == 0:
        return pd.DataFrame(columns=["from", "to", *LINE_DEFAULTS]).astype(
            {"capacity_kw": float, "reactance": float, "shift_rad": float})
    for col in ("from", "to"):
        if col not in lines.columns:
            raise InvalidInput(f"lines need a '{col}' column", field=f"lines.{col}", value=None)
    out = _numeric(_fill(lines.reset_index(drop=True), LINE_DEFAULTS), list(LINE_DEFAULTS),
                   "lines", allow_nan={"reactance"}, allow_inf={"capacity_kw"})
    for i, (a, b) in enumerate(zip(out["from"], out["to"], strict=True)):
        for end, node in (("from", a), ("to", b)):
            if node not in ids:
                raise InvalidInput(f"lines.{end} = {node!r} at row {i} is not a node",
                                   field=f"lines.{end}", row=i, value=node)
        if a == b:
            raise InvalidInput(f"line {i} connects node {a!r} to itself", field="lines.to",
                               row=i, value=b)
    _column_nonnegative(out, "capacity_kw", "lines")
    bad = out.index[out["reactance"] <= 0]
    if len(bad):
        raise InvalidInput(f"lines.reactance must be positive, got {out.at[bad[0], 'reactance']} "
                           f"at row {bad[0]}", field="lines.reactance", row=int(bad[0]),
                           value=out.at[bad[0], "reactance"])
    return out


def _check_generators(gens: pd.DataFrame, ids: set[Any]) -> pd.DataFrame:
    if gens is None or len(gens) == 0:
        return pd.DataFrame(columns=["node", "p_max_kw", *GENERATOR_DEFAULTS])
    for col in ("node", "p_max_kw"):
        if col not in gens.columns:
            raise InvalidInput(f"generators need a '{col}' column", field=f"generators.{col}",
                               value=None)
    numeric = ["p_max_kw", "p_min_kw", "cost_linear", "cost_quadratic", "cost_fixed",
               "carbon_g_per_kwh"]
    out = _numeric(_fill(gens, GENERATOR_DEFAULTS), numeric, "generators")
    out["renewable"] = out["renewable"].astype(bool)
    for row, node in out["node"].items():
        if node not in ids:
            raise InvalidInput(f"generators.node = {node!r} at row {row!r} is not a node",
                               field="generators.node", row=row, value=node)
    for col in ("p_max_kw", "cost_quadratic", "carbon_g_per_kwh"):
        _column_nonnegative(out, col, "generators")
    bad = out.index[out["p_min_kw"] > out["p_max_kw"]]
    if len(bad):
        raise InvalidInput(f"generators.p_min_kw {out.at[bad[0], 'p_min_kw']} exceeds p_max_kw "
                           f"{out.at[bad[0], 'p_max_kw']} at row {bad[0]!r}",
                           field="generators.p_min_kw", row=bad[0], value=out.at[bad[0], "p_min_kw"])
    out["cost_points"] = [_check_points(row, pts) for row, pts in out["cost_points"].items()]
    return out


def _check_points(row: Any, points: Any) -> list[tuple[float, float]] | None:
    """Piecewise-linear cost points (kW, currency/h) must be sorted, finite and convex."""
    if points is None or (isinstance(points, float) and math.isnan(points)):
        return None
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2 or not np.isfinite(pts).all():
        raise InvalidInput(f"generators.cost_points at row {row!r} must be >= 2 finite (kW, cost) "
                           f"pairs, got {points!r}", field="generators.cost_points", row=row,
                           value=points)
    slopes = np.diff(pts[:, 1]) / np.diff(pts[:, 0])
    if (np.diff(pts[:, 0]) <= 0).any() or (np.diff(slopes) < -1e-9).any():
        raise InvalidInput(f"generators.cost_points at row {row!r} must have increasing kW and "
                           f"non-decreasing slopes (convex), got {points!r}",
                           field="generators.cost_points", row=row, value=points)
    return [(float(p), float(c)) for p, c in pts]


def _numeric(frame: pd.DataFrame, cols: list[str], name: str, *,
             allow_nan: frozenset[str] | set[str] = frozenset(),
             allow_inf: frozenset[str] | set[str] = frozenset()) -> pd.DataFrame:
    for col in cols:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna() if col in allow_nan else values.isna()
        if col not in allow_inf:
            bad |= np.isinf(values)
        if bad.any():
            row = bad.idxmax()
            raise InvalidInput(f"{name}.{col} must be a finite number, got {frame.at[row, col]!r} "
                               f"at row {row!r}", field=f"{name}.{col}", row=row,
                               value=frame.at[row, col])
        frame[col] = values.astype(float)
    return frame


def _column_nonnegative(frame: pd.DataFrame, col: str, name: str) -> None:
    bad = frame.index[frame[col] < 0]
    if len(bad):
        raise InvalidInput(f"{name}.{col} must be >= 0, got {frame.at[bad[0], col]} at row "
                           f"{bad[0]!r}", field=f"{name}.{col}", row=bad[0],
                           value=frame.at[bad[0], col])


def _finite(name: str, row: Any, value: Any) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}", field=name, row=row,
                           value=value)


def _nonnegative(name: str, row: Any, value: Any, *, allow_inf: bool = False) -> None:
    ok = isinstance(value, int | float) and not math.isnan(value) and value >= 0
    if not ok or (math.isinf(value) and not allow_inf):
        raise InvalidInput(f"{name} must be >= 0, got {value!r}", field=name, row=row, value=value)

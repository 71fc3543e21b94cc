"""Read a pandapower (or MATPOWER-converted) case into the tables of a ``Grid`` (DC-OPF dispatch).

The case is converted with pandapower's own PYPOWER converter so that buses, branches (lines and
transformers with their tap ratios), generator limits and cost functions are exactly what
``pandapower.rundcopp`` optimises. Units are turned into the model's: MW -> kW, $/MWh -> $/kWh.
``Grid.from_pandapower`` builds (and checks) the grid from these tables, so this module needs
nothing from ``grid``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput

# PYPOWER column indices (pandapower.pypower.idx_*), fixed by the MATPOWER case format.
_BUS_I, _BUS_TYPE, _PD, _GS = 0, 1, 2, 4
_F_BUS, _T_BUS, _BR_X, _RATE_A, _TAP, _SHIFT, _BR_STATUS = 0, 1, 3, 5, 8, 9, 10
_GEN_BUS, _GEN_STATUS, _PMAX, _PMIN = 0, 7, 8, 9
_MODEL, _NCOST, _COST = 0, 3, 4
_PW_LINEAR, _POLYNOMIAL = 1, 2
_KW_PER_MW = 1000.0


def grid_tables_from_pandapower(net: Any) -> dict[str, Any]:
    """``Grid`` keyword arguments: nodes are pandapower bus indices; ``nodes.demand_kw`` holds
    the case's load (plus shunt G)."""
    try:
        from pandapower.converter.pypower.to_ppc import to_ppc
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise InvalidInput("Grid.from_pandapower needs pandapower (the 'grid' extra)",
                           field="net", value=None) from err
    if net.poly_cost.empty and net.pwl_cost.empty:
        raise InvalidInput("pandapower net has no poly_cost or pwl_cost: nothing to optimise",
                           field="net.poly_cost", value=None)
    with warnings.catch_warnings():  # pandapower's own deprecation notices about case data
        warnings.simplefilter("ignore", DeprecationWarning)
        ppc = to_ppc(net, init="flat", calculate_voltage_angles=True, mode="opf")
    base_mva = float(ppc["baseMVA"])
    lookups = net._pd2ppc_lookups
    bus_ids = _bus_ids(net, lookups, len(ppc["bus"]))
    bus = ppc["bus"]
    demand_kw = (bus[:, _PD] + bus[:, _GS]) * _KW_PER_MW
    nodes = pd.DataFrame({"demand_kw": demand_kw}, index=pd.Index(bus_ids, name="node_id"))
    br = ppc["branch"][ppc["branch"][:, _BR_STATUS] > 0]
    tap = np.where(br[:, _TAP] == 0, 1.0, br[:, _TAP])
    rate = np.where(br[:, _RATE_A] > 0, br[:, _RATE_A] * _KW_PER_MW, np.inf)
    lines = pd.DataFrame({
        "from": [bus_ids[int(i)] for i in br[:, _F_BUS].real],
        "to": [bus_ids[int(i)] for i in br[:, _T_BUS].real],
        "capacity_kw": rate.real,
        "reactance": (br[:, _BR_X] * tap).real,
        "shift_rad": np.deg2rad(br[:, _SHIFT].real),
    })
    generators = _generators(ppc, lookups, net, bus_ids)
    return {"nodes": nodes, "lines": lines, "generators": generators, "connection": None,
            "base_kva": base_mva * _KW_PER_MW}


def _bus_ids(net: Any, lookups: dict[str, Any], n_bus: int) -> list[Any]:
    """Pandapower bus index of every PYPOWER bus row (the first one when buses were fused)."""
    ids: list[Any] = [f"ppc_bus_{i}" for i in range(n_bus)]
    seen: set[int] = set()
    lookup = lookups["bus"]
    for pp_bus in net.bus.index:
        row = int(lookup[pp_bus])
        if 0 <= row < n_bus and row not in seen:
            ids[row] = int(pp_bus)
            seen.add(row)
    return ids


def _generators(ppc: dict[str, Any], lookups: dict[str, Any], net: Any,
                bus_ids: list[Any]) -> pd.DataFrame:
    gen, gencost = ppc["gen"], ppc["gencost"]
    labels = [f"ppc_gen_{i}" for i in range(len(gen))]
    for et in ("ext_grid", "gen", "sgen", "storage", "load", "dcline"):
        rows = lookups.get(et)
        if rows is not None and et in net and len(rows) == len(net[et]):
            for element, row in zip(net[et].index, rows, strict=True):
                if 0 <= int(row) < len(gen):
                    labels[int(row)] = f"{et} {element}"
    records = []
    for i in np.flatnonzero(gen[:, _GEN_STATUS] > 0):
        record: dict[str, Any] = {
            "name": labels[i], "node": bus_ids[int(gen[i, _GEN_BUS])],
            "p_min_kw": gen[i, _PMIN] * _KW_PER_MW, "p_max_kw": gen[i, _PMAX] * _KW_PER_MW,
        }
        record.update(_cost(gencost[i], labels[i]))
        records.append(record)
    return pd.DataFrame(records).set_index("name")


def _cost(row: np.ndarray, label: str) -> dict[str, Any]:
    """One PYPOWER gencost row as linear/quadratic coefficients or piecewise-linear points."""
    n = int(row[_NCOST])
    coeffs = row[_COST:_COST + (2 * n if row[_MODEL] == _PW_LINEAR else n)]
    if row[_MODEL] == _PW_LINEAR:
        pts = coeffs.reshape(n, 2) * [_KW_PER_MW, 1.0]
        return {"cost_points": [tuple(p) for p in pts]}
    if row[_MODEL] != _POLYNOMIAL or n > 3:
        raise InvalidInput(f"generator {label}: cost model {row[_MODEL]:g} with {n} coefficients "
                           "is not linear, quadratic or piecewise linear",
                           field="net.poly_cost", row=label, value=list(coeffs))
    c = np.zeros(3)
    c[3 - n:] = coeffs  # highest order first: (c2, c1, c0)
    return {"cost_quadratic": c[0] / _KW_PER_MW**2, "cost_linear": c[1] / _KW_PER_MW,
            "cost_fixed": c[2]}

"""Load balancing: peak shaving and valley filling levels, load-shifting recommendations and a
grid stability score.

Stability score (0..100, higher is steadier), on an hourly load profile ``r`` (kW):

    score = 100 × (0.5 × load_factor + 0.3 × (1 − ramp_index) + 0.2 × (1 − overload))

* ``load_factor = mean(r) / max(r)``: 1 for a flat profile;
* ``ramp_index = min(1, mean |r_t − r_{t−1}| / max(r))``: 0 when the load never changes;
* ``overload = min(1, max line loading − 1)`` clipped at 0: the fraction by which the most loaded
  line exceeds its rating (0 when every line is within its rating, or none is given).

A zero profile scores 100.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.optimization.dispatch import Dispatch


def _profile(load: pd.Series, name: str = "load") -> np.ndarray:
    values = pd.to_numeric(load, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(values) == 0 or len(bad):
        row = load.index[bad[0]] if len(bad) else None
        raise InvalidInput(f"{name} must be a non-empty series of finite kW, got "
                           f"{load.iloc[bad[0]] if len(bad) else 'nothing'!r} at {row!r}",
                           field=name, row=row, value=load.iloc[bad[0]] if len(bad) else None)
    return values


def _energy(value: float, name: str) -> None:
    if not np.isfinite(value) or value < 0:
        raise InvalidInput(f"{name} must be a finite number >= 0, got {value!r}", field=name,
                           value=value)


def peak_shaving_level(load: pd.Series, energy_kwh: float) -> float:
    """Lowest level L such that the energy above L, Σ max(load − L, 0), is at most ``energy_kwh``
    (what a store of that size could shave off the peaks)."""
    values = _profile(load)
    _energy(energy_kwh, "energy_kwh")
    levels = np.sort(values)[::-1]
    for i in range(1, len(levels) + 1):
        nxt = levels[i] if i < len(levels) else min(levels[-1], 0.0)
        above = (levels[:i] - nxt).sum()  # energy above the next distinct level
        if above >= energy_kwh:
            return float(nxt + (above - energy_kwh) / i)
    return float(min(levels[-1], 0.0))


def valley_filling_level(load: pd.Series, energy_kwh: float) -> float:
    """Highest level L such that the energy below L, Σ max(L − load, 0), is at most
    ``energy_kwh`` (how far that much shifted or stored energy lifts the valleys)."""
    return -peak_shaving_level(-pd.Series(_profile(load), index=load.index), energy_kwh)


def shave_and_fill(load: pd.Series, energy_kwh: float) -> pd.Series:
    """The profile after moving up to ``energy_kwh`` from the peaks into the valleys."""
    values = _profile(load)
    moved = min(energy_kwh, float((values - values.mean()).clip(min=0).sum()))
    top = peak_shaving_level(load, moved)
    bottom = valley_filling_level(load, moved)
    return pd.Series(np.clip(values, bottom, top), index=load.index, name=load.name)


def shift_recommendations(dispatch: Dispatch) -> pd.DataFrame:
    """Per node and hour: how much load to move out of (``shift_out``) or into (``shift_in``)
    that hour, and to/from which hours, ordered by node and hour."""
    moves = dispatch.demand_moves
    columns = ["node", "hour", "action", "kwh", "counterpart_hour"]
    if moves.empty:
        return pd.DataFrame(columns=columns)
    out = moves.rename(columns={"from_hour": "hour", "to_hour": "counterpart_hour"})
    out = out.assign(action="shift_out")
    into = moves.rename(columns={"to_hour": "hour", "from_hour": "counterpart_hour"})
    into = into.assign(action="shift_in")
    both = pd.concat([out, into], ignore_index=True)[columns]
    return both.sort_values(["node", "hour", "action"], ignore_index=True)


def stability_score(load: pd.Series, line_loading: pd.DataFrame | None = None) -> float:
    """Grid stability score (0..100) of an hourly profile; see the module docstring."""
    values = _profile(load)
    peak = float(np.abs(values).max())
    if peak == 0:
        return 100.0
    load_factor = float(np.abs(values).mean()) / peak
    ramp = float(np.abs(np.diff(values)).mean()) / peak if len(values) > 1 else 0.0
    overload = 0.0
    if line_loading is not None and line_loading.size:
        overload = float(np.clip(np.nanmax(line_loading.to_numpy(dtype=float)) - 1.0, 0.0, 1.0))
    return 100.0 * (0.5 * load_factor + 0.3 * (1.0 - min(ramp, 1.0)) + 0.2 * (1.0 - overload))


def dispatch_stability(dispatch: Dispatch, capacity_kw: pd.Series | None = None) -> float:
    """Stability score of a plan's non-renewable supply (import + generation), with line
    loadings when the line ratings (indexed like ``dispatch.flows`` columns) are given."""
    supply = dispatch.grid_import + dispatch.generation.sum(axis=1)
    loading = None
    if capacity_kw is not None and len(dispatch.flows.columns):
        loading = dispatch.flows.abs() / capacity_kw.reindex(dispatch.flows.columns).to_numpy()
    return stability_score(supply, loading)

"""Microgrid dispatch optimisation (cvxpy), built in PyPSA's phases: variables, constraint groups,
objective, solve, read back. ``optimize_dispatch(grid, demand, generation, prices, horizon)``
returns a ``Dispatch``; ``balancing`` turns profiles and plans into load-balancing advice."""

from models.optimization.balancing import (
    dispatch_stability,
    peak_shaving_level,
    shave_and_fill,
    shift_recommendations,
    stability_score,
    valley_filling_level,
)
from models.optimization.dispatch import Dispatch, optimize_dispatch
from models.optimization.grid import Grid, GridConnection
from models.optimization.model import Weights

__all__ = ["Dispatch", "Grid", "GridConnection", "Weights", "dispatch_stability",
           "optimize_dispatch", "peak_shaving_level", "shave_and_fill", "shift_recommendations",
           "stability_score", "valley_filling_level"]

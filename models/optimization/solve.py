"""Solve phase: pick the solver (HiGHS for LPs, Clarabel for QPs), translate failures into
``SolveFailed`` and, for an infeasible plan, find the constraint group that makes it so."""

from __future__ import annotations

import time

import cvxpy as cp
import numpy as np

from models.errors import SolveFailed
from models.optimization.grid import Grid
from models.optimization.model import DispatchModel, ModelInputs
from models.optimization.quiet import native_stdout_silenced

_ACCEPTED = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)


def choose_solver(problem: cp.Problem) -> str:
    """HiGHS when the objective is piecewise linear (an LP), Clarabel otherwise (QP/SOCP)."""
    return cp.HIGHS if problem.objective.args[0].is_pwl() else cp.CLARABEL


def solve(problem: cp.Problem, solver: str | None = None) -> tuple[str, str, float]:
    """Solve in place; returns (status, solver, seconds). Solver crashes raise ``SolveFailed``."""
    solver = solver or choose_solver(problem)
    start = time.perf_counter()
    # HiGHS: interior point (then crossover, for vertex duals) scales better than simplex here
    options = ({"highs_options": {"output_flag": False, "solver": "ipm"}} if solver == cp.HIGHS
               else {})
    try:
        with native_stdout_silenced():  # the HiGHS banner
            problem.solve(solver=solver, verbose=False, **options)
    except cp.SolverError as err:
        raise SolveFailed(f"dispatch: solver {solver} failed: {err}", status="solver_error") \
            from err
    return str(problem.status), solver, time.perf_counter() - start


def check_status(status: str, solver: str, grid: Grid, inputs: ModelInputs) -> None:
    """Raise ``SolveFailed`` for anything but an optimal solution, naming what binds."""
    if status in _ACCEPTED:
        return
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        group, detail = diagnose_infeasibility(grid, inputs)
        raise SolveFailed(f"dispatch infeasible: constraint group '{group}' cannot be met; "
                          f"{detail}", status="infeasible", binding=group)
    if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        raise SolveFailed("dispatch unbounded: the objective decreases without limit (check for "
                          "negative generator costs or uncapped export revenue)",
                          status="unbounded", binding="objective")
    raise SolveFailed(f"dispatch: solver {solver} stopped with status {status!r}", status=status)


def diagnose_infeasibility(grid: Grid, inputs: ModelInputs) -> tuple[str, str]:
    """Relax each relaxable group alone; the first whose slacks restore feasibility binds.

    ``nodal_balance`` (demand cannot be met at all) is tried last, since relaxing it always works
    unless another physical constraint conflicts on its own.
    """
    for group in DispatchModel.RELAXABLE:
        model = DispatchModel(grid, inputs, relax=frozenset({group}))
        problem = model.build()
        try:
            with native_stdout_silenced():
                problem.solve(solver=cp.HIGHS, verbose=False,
                              highs_options={"output_flag": False})
        except cp.SolverError:
            continue
        if problem.status in _ACCEPTED and group in model.slacks:
            return group, _worst_violation(model, group, inputs)
    return "storage_dynamics", ("no single group's relaxation restores feasibility; check the "
                                "storage, demand-response and generator data together")


def _worst_violation(model: DispatchModel, group: str, inputs: ModelInputs) -> str:
    """Total relaxation needed and where the largest single violation sits."""
    total, worst, where = 0.0, -1.0, ""
    for slack, labels in model.slacks[group]:
        value = np.atleast_1d(np.asarray(slack.value, dtype=float)) * model.scale
        total += float(value.sum())
        flat = int(np.argmax(value))
        if value.flat[flat] > worst:
            worst = float(value.flat[flat])
            idx = np.unravel_index(flat, value.shape)
            if value.ndim == 2:
                label, hour = labels[idx[0]], idx[1]
            elif len(labels) == 1:  # an hourly series of one element
                label, hour = labels[0], idx[0]
            else:
                label, hour = labels[idx[0]], None
            where = f"{label!r}" + ("" if hour is None else f" at hour {inputs.index[hour]!r}")
    return (f"it must be relaxed by {total:.6g} kW(h) in total, most at {where} "
            f"({worst:.6g})")

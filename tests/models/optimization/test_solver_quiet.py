"""No solver banner reaches stdout: HiGHS writes one from C++ unless fd 1 is redirected."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LP = """
import cvxpy as cp
x = cp.Variable()
problem = cp.Problem(cp.Minimize(x), [x >= 1])
"""


def _stdout(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", LP + code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=True)
    return done.stdout


def test_a_bare_highs_solve_prints_its_banner() -> None:  # the failure the next test prevents
    assert "HiGHS" in _stdout("problem.solve(solver=cp.HIGHS)\nprint('after')")


def test_our_solve_prints_nothing_and_keeps_stdout_working() -> None:
    out = _stdout("print('before', flush=False)\n"
                  "from models.optimization.solve import solve\n"
                  "status, solver, _ = solve(problem)\n"
                  "print('after', status, solver)")
    assert "HiGHS" not in out
    assert out.split() == ["before", "after", "optimal", "HIGHS"]

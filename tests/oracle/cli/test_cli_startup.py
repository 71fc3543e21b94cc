"""`oracle` starts fast: importing the CLI, `--help` and `audit verify` load no heavy library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import typer.core
import typer.main

from oracle.cli import app
from oracle.cli.lazy import COMMANDS, load_command

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("sklearn", "pandas", "tensorflow", "torch", "web3", "fastapi", "cvxpy", "optuna",
         "scipy", "plotly", "uvicorn")
PROBE = f"""
import json, sys
from oracle.cli import main
code = main(sys.argv[1:]) if len(sys.argv) > 1 else None
print(json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}))
"""


def _probe(*args: str, env: dict[str, str] | None = None) -> tuple[dict[str, object], str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=full_env, timeout=60, check=False)
    last = done.stdout.strip().splitlines()[-1]
    return json.loads(last), done.stdout + done.stderr


def test_importing_the_cli_loads_no_heavy_library() -> None:
    result, _ = _probe()
    assert result["heavy"] == []


def test_help_lists_every_command_without_importing_them() -> None:
    result, out = _probe("--help")
    assert result == {"code": 0, "heavy": []}
    for name in COMMANDS:
        assert f" {name} " in out, name


def test_audit_verify_loads_no_heavy_library(tmp_path: Path) -> None:
    env = {"ORACLE_DATABASE_URL": f"sqlite:///{tmp_path / 'o.db'}"}
    upgraded, out = _probe("db", "upgrade", env=env)
    assert upgraded["code"] == 0, out
    result, out = _probe("audit", "verify", env=env)
    assert result == {"code": 0, "heavy": []}, out
    assert "audit log intact" in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_recorded_short_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert COMMANDS[name].help == command.get_short_help_str(limit=1000)


def test_the_root_group_runs_a_lazy_command() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.get_command(typer.Context(group), "audit")
    assert isinstance(command, typer.core.TyperGroup)
    assert set(command.commands) >= {"list", "show", "verify"}
    assert group.get_command(typer.Context(group), "no-such-command") is None

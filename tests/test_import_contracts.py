"""The import rules of DESIGN.md are import-linter contracts in pyproject.toml: the tree keeps
them, and a planted violation of each kind breaks them (so the check can fail)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False)


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]  # type: ignore[no-any-return]


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_contracts())} kept, 0 broken" in result.stdout


def test_the_design_rules_are_contracts() -> None:
    by_type: dict[str, list[dict[str, object]]] = {}
    for contract in _contracts():
        by_type.setdefault(str(contract["type"]), []).append(contract)
    assert any(c["source_modules"] == ["models"] and c["forbidden_modules"] == ["oracle"]
               for c in by_type["forbidden"])
    assert any(set(c["modules"]) == {"oracle.sources", "oracle.store", "oracle.chain"}  # type: ignore[arg-type]
               for c in by_type["independence"])
    assert any(c["protected_modules"] == ["oracle.app"] for c in by_type["protected"])
    assert by_type["layers"], "the layers contract keeps commands above wiring above parts"


@pytest.fixture(scope="module")
def copy_of_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for package in ("oracle", "models"):
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("module", "planted", "broken"), [
    ("models/metrics/detection.py", "import oracle.errors", "models is pure"),
    ("oracle/chain/fees.py", "import oracle.store.engine", "import none of each other"),
    ("oracle/sources/weather.py", "import models.features", "do not run models"),
    ("oracle/store/audit.py", "import oracle.jobs", "layers"),
    ("oracle/scheduler.py", "import oracle.app", "only app wires"),
    ("oracle/app.py", "import httpx", "no I/O of its own"),
    ("models/optimization/grid.py", "import models.optimization.model", "no import cycles"),
])
def test_a_planted_import_breaks_its_contract(copy_of_tree: Path, module: str, planted: str,
                                             broken: str) -> None:
    path = copy_of_tree / module
    original = path.read_text()
    path.write_text(original + f"\n{planted}  # planted by the test\n")
    try:
        result = _lint(copy_of_tree)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    broken_section = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in broken_section, result.stdout

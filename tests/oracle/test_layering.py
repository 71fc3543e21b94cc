"""The import direction: sources, store and chain import oracle.config and oracle.errors (and
small shared utilities), never each other; models never import oracle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APART = ("oracle.sources", "oracle.store", "oracle.chain")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", APART)
def test_sources_store_and_chain_do_not_import_each_other(package: str) -> None:
    others = [p for p in APART if p != package]
    folder = ROOT / package.replace(".", "/")
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in folder.rglob("*.py")
        for name in _imports(path)
        if any(name == other or name.startswith(other + ".") for other in others)
    }
    assert not offending, sorted(offending)


def test_models_do_not_import_oracle() -> None:
    offending = {f"{path.relative_to(ROOT)}: {name}"
                 for path in (ROOT / "models").rglob("*.py")
                 for name in _imports(path) if name == "oracle" or name.startswith("oracle.")}
    assert not offending, sorted(offending)

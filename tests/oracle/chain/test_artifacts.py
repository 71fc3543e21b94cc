"""Committed artifacts are exactly what the pinned solc makes of the sources."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from oracle.chain.artifacts import ARTIFACTS_DIR, CONTRACT_NAMES, load_artifact
from oracle.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_artifacts_match_a_fresh_compile() -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").is_dir():
        pytest.skip("node_modules/solc missing: run `npm ci` (make test does)")
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["solc"]
    result = subprocess.run(["node", "contracts/compile.js", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"solc {pinned}+" in result.stdout


def test_artifacts_record_the_pinned_openzeppelin_version() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["@openzeppelin/contracts"]
    for name in CONTRACT_NAMES:
        compiler = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())["compiler"]
        assert compiler["libraries"] == {"@openzeppelin/contracts": pinned}, name


def test_every_artifact_loads_with_abi_and_bytecode() -> None:
    for name in CONTRACT_NAMES:
        artifact = load_artifact(name)
        assert artifact.bytecode.startswith("0x") and "64736f6c634300081c" in artifact.bytecode
        assert len(artifact.sha256) == 64
        assert json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())["compiler"]["version"]


def test_missing_artifact_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"compile\.js"):
        load_artifact("Nope", tmp_path)

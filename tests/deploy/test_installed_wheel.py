"""An installed wheel (what the container image holds) finds its contract artifacts and its
migrations without the source tree: build the wheel from a copy of the checkout, install it into
a fresh venv, and import it from a directory where no checkout is on ``sys.path``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from: the packaging files and what pyproject's data-files name.
_SOURCES = ("pyproject.toml", "README.md", "oracle", "models", "contracts/artifacts", "migrations")

_PROBE = """
import json, sys
from pathlib import Path
import oracle
from oracle.chain.artifacts import ARTIFACTS_DIR, load_artifact
from oracle.store import migrate
from oracle.store.engine import make_engine
art = load_artifact("EnergyPriceOracle")
engine = make_engine("sqlite:///" + str(Path.cwd() / "installed.db"))
migrate.upgrade(engine)  # alembic runs the installed env.py and versions/
print(json.dumps({
    "oracle_file": oracle.__file__,
    "prefix": sys.prefix,
    "artifacts_dir": str(ARTIFACTS_DIR),
    "abi_entries": len(art.abi),
    "bytecode_prefix": art.bytecode[:2],
    "migrations_dir": str(migrate.MIGRATIONS_DIR),
    "revisions": migrate.known_revisions(),
    "head": migrate.head_revision(),
    "upgraded_to": migrate.current_revision(engine),
}))
"""


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in _SOURCES:
        origin = ROOT / name
        target = src / name
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    dist = tmp / "dist"
    # --no-build-isolation: the machine has no index; the venv's setuptools builds it.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(src)], check=True, capture_output=True, timeout=120)
    (wheel,) = dist.glob("solchain_oracle-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies come from the test venv's site-packages as a bare path: its .pth files
    # (the editable install of the checkout) are not processed, so no checkout is importable.
    (site / "zz_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    # --ignore-installed: the dependencies' site-packages hold the checkout's editable
    # solchain-oracle of the same version, which pip would otherwise take as already there.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--ignore-installed", "--no-index", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=120)
    shutil.rmtree(src)  # the checkout copy it was built from is gone
    return env_dir


@pytest.mark.slow
def test_installed_wheel_finds_artifacts_and_migrations(installed_venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "ORACLE_CONTRACTS_DIR", "ORACLE_MIGRATIONS_DIR")}
    result = subprocess.run([str(installed_venv / "bin" / "python"), "-c", _PROBE], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    prefix = Path(found["prefix"]).resolve()
    assert prefix == installed_venv.resolve()
    assert Path(found["oracle_file"]).resolve().is_relative_to(prefix), found["oracle_file"]
    share = prefix / "share" / "solchain-oracle"
    assert Path(found["artifacts_dir"]).resolve() == share / "contracts" / "artifacts"
    assert found["abi_entries"] > 0 and found["bytecode_prefix"] == "0x"
    assert Path(found["migrations_dir"]).resolve() == share / "migrations"
    expected = sorted(p.name.split("_")[0] for p in (ROOT / "migrations" / "versions").glob("[0-9]*.py"))
    assert found["revisions"] == expected and found["head"] == expected[-1]
    assert found["upgraded_to"] == expected[-1]


@pytest.mark.slow
def test_contracts_dir_variable_overrides_the_shipped_copy(installed_venv: Path, tmp_path: Path) -> None:
    own = tmp_path / "artifacts"
    own.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"ORACLE_CONTRACTS_DIR": str(own)}
    probe = ("from oracle.chain.artifacts import ARTIFACTS_DIR, load_artifact\n"
             "print(ARTIFACTS_DIR)\nload_artifact('EnergyPriceOracle')\n")
    result = subprocess.run([str(installed_venv / "bin" / "python"), "-c", probe], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == str(own)
    assert result.returncode != 0 and str(own / "EnergyPriceOracle.json") in result.stderr

"""The compose file's init job, run as written (`sh -ec "<its command>"`, its environment) twice
against the real services: PostgreSQL and a hardhat node on loopback stand in for the compose
services `postgres` and `hardhat`. The first run migrates, creates the key and deploys; the
second changes nothing and exits 0, which is what lets `docker compose up` run it every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from oracle.store.engine import make_engine
from oracle.store.migrate import current_revision, head_revision

ROOT = Path(__file__).resolve().parents[2]


def _init_service() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["init"]


@pytest.mark.postgres
@pytest.mark.hardhat
@pytest.mark.slow
def test_init_job_sets_up_then_changes_nothing(pg_schema: str, hardhat_url: str, tmp_path: Path) -> None:
    service = _init_service()
    credentials = tmp_path / "run-secrets"
    credentials.mkdir(mode=0o700)
    for name in service["secrets"]:
        (credentials / name).write_text(f"compose-{name}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
    env |= {str(k): str(v) for k, v in service["environment"].items()}
    env |= {  # the compose hosts, here on loopback
        "ORACLE_DATABASE_URL": pg_schema,
        "ORACLE_CHAIN__RPC_URLS": json.dumps([hardhat_url]),
        "ORACLE_CHAIN__KEYSTORE_PATH": str(tmp_path / "oracledata" / "keystore.json"),
        "CREDENTIALS_DIRECTORY": str(credentials),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
    }
    command = [*service["entrypoint"], *service["command"]]

    first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created" in first.stdout and first.stdout.count("(chain 31337)") == 3, first.stdout
    engine = make_engine(pg_schema)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    key = (tmp_path / "oracledata" / "keystore.json").read_bytes()

    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "kept" in second.stdout and second.stdout.count("kept: already deployed") == 3, second.stdout
    assert (tmp_path / "oracledata" / "keystore.json").read_bytes() == key

    (credentials / "keystore_password").write_text("not-the-password\n")
    wrong = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert wrong.returncode == 2 and "wrong password" in wrong.stdout + wrong.stderr

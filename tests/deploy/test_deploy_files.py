"""The deployment files are consistent with the code. No Docker engine runs here, and the
`docker compose` plugin is not installable on this machine, so the compose file is checked
structurally (and with `docker compose config` wherever the plugin exists)."""

from __future__ import annotations

import configparser
import itertools
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from oracle.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services_have_healthchecks_and_valid_dependencies() -> None:
    doc = _compose()
    services = doc["services"]
    assert {"postgres", "hardhat", "backend", "oracle"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service, f"service {name} has no healthcheck"
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert cond["condition"] == "service_healthy"
        for secret in service.get("secrets", []):
            assert secret in doc["secrets"], f"{name} uses undeclared secret {secret}"


@pytest.mark.parametrize("service", ["backend", "oracle"])
def test_compose_commands_are_real_oracle_commands(service: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    command = _compose()["services"][service]["command"]
    words = list(itertools.takewhile(lambda w: not w.startswith("-"), command))
    assert main([*words, "--help"]) == 0, f"`oracle {' '.join(words)}` does not exist"
    capsys.readouterr()


def test_compose_environment_names_real_settings() -> None:
    from oracle.config import load_settings

    env = _compose()["x-oracle"]["environment"]
    settings = load_settings()
    for key in env:
        assert key.startswith("ORACLE_")
        path = key.removeprefix("ORACLE_").lower().split("__")
        node: object = settings
        for part in path:
            assert hasattr(node, part), f"{key}: no setting {'.'.join(path)}"
            node = getattr(node, part)


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_compose_config() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed (not available on this machine)")
    secrets = ROOT / "secrets"
    made = not secrets.exists()
    if made:
        secrets.mkdir()
        for name in ("database_password", "keystore_password"):
            (secrets / name).write_text("x")
    try:
        result = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    finally:
        if made:
            shutil.rmtree(secrets)


def test_dockerfile_copies_files_that_exist_and_runs_unprivileged() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, flags=re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    assert re.search(r"^USER oracle$", text, flags=re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text


def test_systemd_unit_is_hardened_and_runs_the_daemon() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string((ROOT / "deploy" / "solchain-oracle.service").read_text())
    service = unit["Service"]
    assert service["ExecStart"].endswith("oracle run")
    assert service["Restart"] == "on-failure"
    assert service["User"] != "root"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict"}.items():
        assert service[key] == value
    assert service["ReadWritePaths"] == "/var/lib/solchain-oracle"
    assert "LoadCredential" in service

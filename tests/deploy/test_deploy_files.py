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


def _one_shot(service: dict) -> bool:
    return service.get("restart") == "no"


def test_compose_services_have_healthchecks_and_valid_dependencies() -> None:
    doc = _compose()
    services = doc["services"]
    assert {"postgres", "hardhat", "backend", "init", "oracle"} <= set(services)
    for name, service in services.items():
        if not _one_shot(service):
            assert "healthcheck" in service, f"service {name} has no healthcheck"
        for dep, cond in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            wanted = "service_completed_successfully" if _one_shot(services[dep]) else "service_healthy"
            assert cond["condition"] == wanted, f"{name} -> {dep}: {cond}"
        for secret in service.get("secrets", []):
            assert secret in doc["secrets"], f"{name} uses undeclared secret {secret}"
    assert "/readyz" in " ".join(services["oracle"]["healthcheck"]["test"])
    assert set(services["oracle"]["depends_on"]) == {"init", "postgres", "hardhat", "backend"}


def test_compose_images_are_pinned_and_the_dev_chain_installs_nothing_at_start() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        image = service.get("image")
        assert image, f"service {name} names no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"service {name}: image {image!r} is not pinned"
        assert re.search(r"\d", tag), f"service {name}: tag {tag!r} carries no version"
    hardhat = services["hardhat"]
    assert "command" not in hardhat and "volumes" not in hardhat
    dockerfile = (ROOT / hardhat["build"]["dockerfile"]).read_text()
    assert re.search(r"^RUN npm ci", dockerfile, flags=re.M)
    assert "npm ci" not in dockerfile.split("\nCMD", 1)[1]
    for path in (ROOT / "deploy").glob("*Dockerfile"):
        for base in re.findall(r"^FROM (\S+)", path.read_text(), flags=re.M):
            assert re.search(r":\d+\.\d+\.\d+", base), f"{path.name}: base {base} is not pinned to a version"


def test_compose_init_job_runs_idempotent_real_commands(capsys: pytest.CaptureFixture[str]) -> None:
    init = _compose()["services"]["init"]
    assert init["entrypoint"] == ["sh", "-ec"]
    steps = [step.split() for step in init["command"][0].split("&&")]
    assert [s[:3] for s in steps] == [["oracle", "db", "upgrade"], ["oracle", "keys", "new"],
                                      ["oracle", "contracts", "deploy"]]
    for step in steps:
        words = list(itertools.takewhile(lambda w: not w.startswith("-"), step[1:]))
        assert main([*words, "--help"]) == 0, f"`oracle {' '.join(words)}` does not exist"
        shown = capsys.readouterr().out
        for flag in (w for w in step if w.startswith("--")):
            assert flag in shown, f"`oracle {' '.join(words)}` has no {flag}"
    for step in steps[1:]:
        assert "--if-missing" in step, f"{' '.join(step)} is not safe to repeat"


def test_compose_secrets_are_files_under_secrets_and_documented() -> None:
    doc = _compose()
    readme = (ROOT / "secrets" / "README.md").read_text()
    assert "*.txt" in (ROOT / "secrets" / ".gitignore").read_text().split()
    for secret in doc["secrets"].values():
        path = Path(secret["file"])
        assert path.parent == Path("secrets") and path.suffix == ".txt", secret
        assert path.name in readme and path.name in (ROOT / "README.md").read_text()
    for name in ("init", "oracle"):
        assert doc["services"][name]["environment"]["CREDENTIALS_DIRECTORY"] == "/run/secrets"


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
    made = [ROOT / s["file"] for s in _compose()["secrets"].values() if not (ROOT / s["file"]).exists()]
    for path in made:
        path.write_text("x")
    try:
        result = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    finally:
        for path in made:
            path.unlink()


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

"""The README's operator walkthrough, run as written: the reference backend, a hardhat node, a
key, the contracts, `oracle run` until `/readyz` is ready and a price round is stored, then a
clean SIGTERM stop. The README must show the script exactly."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "walkthrough.sh"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_shows_the_walkthrough_as_it_is() -> None:
    assert SCRIPT.read_text() in (ROOT / "README.md").read_text()


@pytest.mark.hardhat
@pytest.mark.slow
def test_the_walkthrough_runs_from_start_to_a_clean_stop(tmp_path: Path) -> None:
    if shutil.which("curl") is None or not (ROOT / "node_modules" / ".bin" / "hardhat").exists():
        pytest.skip("the walkthrough needs curl and hardhat (make test installs hardhat)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
    env |= {"WORK": str(tmp_path / "work"), "BACKEND_PORT": str(_free_port()),
            "RPC_PORT": str(_free_port()), "API_PORT": str(_free_port())}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "schema empty -> " in out and "created " in out and "(chain 31337)" in out
    assert '"ready":true' in out
    assert "price.round" in out
    assert "daemon stopped: exit 0" in out

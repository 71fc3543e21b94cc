"""py-evm and py_ecc raise the recursion limit to 100,000 when imported; the chain package
imports them once and restores a sane limit, so deep input cannot overflow the C stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def python(code: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})


def test_the_limit_is_restored_whatever_imports_the_chain_first() -> None:
    code = ("import sys\n"
            "import eth_account, web3\n"  # raise it before oracle.chain is imported
            "assert sys.getrecursionlimit() >= 100000\n"
            "from oracle.chain import RECURSION_LIMIT, keystore, contracts\n"
            "import eth, py_ecc, eth_tester\n"
            "import oracle.cli, oracle.app\n"
            "print(sys.getrecursionlimit(), RECURSION_LIMIT)\n")
    done = python(code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1000", "1000"]


def test_a_hundred_thousand_brackets_through_the_cli_are_an_error_not_a_crash(
        tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    done = python("from oracle.cli import run; run()", "model", "optimize", "-i", str(deep),
                  "-o", str(tmp_path / "plan.json"), cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr.strip().splitlines() == [
        f"error: --input {deep}: JSON nested deeper than 64 levels"]

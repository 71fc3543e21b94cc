"""The operator-facing CLI surface: one --format, completion, serve --host/--port, and clear
errors for an unknown revision or a missing SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from oracle.cli import main
from oracle.store.audit import AuditLog
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-c", "import sys; sys.argv[0] = 'oracle'; from oracle.cli import run; run()"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def audited(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/oracle.db"
    engine = make_engine(url)
    upgrade(engine)
    log = AuditLog(engine)
    for i in range(3):
        log.append("price.round", {"round": i}, ref=f"r{i}")
    engine.dispose()
    return url


def test_audit_list_in_every_format(audited: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "list", "--db-url", audited, "--format", "json")
    as_json = json.loads(out)
    assert code == 0 and [r["seq"] for r in as_json] == [1, 2, 3]
    code, out, _ = run(capsys, "audit", "list", "--db-url", audited, "--format", "jsonl")
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == as_json
    code, out, _ = run(capsys, "audit", "list", "--db-url", audited, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["ref"] for r in rows] == ["r0", "r1", "r2"]
    assert json.loads(rows[1]["payload"]) == {"round": 1}
    code, out, _ = run(capsys, "audit", "list", "--db-url", audited)
    assert code == 0 and "price.round" in out and "3 entries" in out
    code, _, err = run(capsys, "audit", "list", "--db-url", audited, "--format", "yaml")
    assert code == 2 and "yaml" in err


@pytest.mark.parametrize("command", [["contracts", "list"], ["model", "list"]])
def test_the_old_json_flag_names_the_new_one(audited: str, command: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *command, "--json", "--db-url", audited)
    assert code == 2 and "--format json" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [["contracts", "list"], ["model", "list"]])
def test_other_lists_speak_every_format(audited: str, command: list[str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, *command, "--format", "json", "--db-url", audited)
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(capsys, *command, "--format", "csv", "--db-url", audited)
    assert code == 0 and out.count("\n") == 1  # the header only


def test_db_downgrade_to_an_unknown_revision_lists_the_known_ones(
        audited: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "db", "downgrade", "garbage", "--db-url", audited)
    assert code == 2 and "garbage" in err
    assert "known revisions: 0001, 0002, 0003, 0004, 0005" in err


def test_audit_list_on_a_missing_sqlite_file_fails_and_creates_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "sub" / "nothere.db"
    code, _, err = run(capsys, "audit", "list", "--db-url", f"sqlite:///{missing}")
    assert code == 2 and str(missing) in err and "oracle db upgrade" in err
    assert not missing.exists() and not missing.parent.exists()


def test_shell_completion_completes_commands_and_subcommands() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "_ORACLE_COMPLETE": "complete_bash"}
    top = subprocess.run(CLI, env={**env, "COMP_WORDS": "oracle au", "COMP_CWORD": "1"},
                         capture_output=True, text=True, timeout=60, check=False)
    assert top.stdout.split() == ["audit"]
    sub = subprocess.run(CLI, env={**env, "COMP_WORDS": "oracle audit v", "COMP_CWORD": "2"},
                         capture_output=True, text=True, timeout=60, check=False)
    assert sub.stdout.split() == ["verify"]
    # typer guesses the shell from the parent processes unless told not to, and under a
    # detached runner (CI, nohup) there is none to find: name the shell, as a user may
    script = subprocess.run([*CLI, "--show-completion", "bash"], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert script.returncode == 0 and "_ORACLE_COMPLETE" in script.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_listens_on_the_host_and_port_given(audited: str) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ORACLE_API__PORT": "1"}  # the flag wins
    proc = subprocess.Popen([*CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--db-url", audited], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert reply.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""`oracle db` and `oracle audit` end to end through the console entry point."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from oracle.cli import main
from oracle.store.audit import AuditLog
from oracle.store.engine import make_engine

HEAD = "0005"  # the newest revision under migrations/versions/


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_db_upgrade_current_downgrade(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "current", "--db-url", db_url)
    assert code == 0 and "current empty" in out and "behind" in out
    code, out, _ = run(capsys, "db", "upgrade", "--db-url", db_url)
    assert code == 0 and f"empty -> {HEAD}" in out
    code, out, _ = run(capsys, "db", "current", "--db-url", db_url)
    assert "up to date" in out
    code, out, _ = run(capsys, "db", "downgrade", "0001", "--db-url", db_url)
    assert code == 0 and f"{HEAD} -> 0001" in out
    code, _, err = run(capsys, "db", "downgrade", "zzz", "--db-url", db_url)
    assert code == 2 and "zzz" in err


def test_commands_refuse_a_schema_behind_the_code(sqlite_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "audit", "verify", "--db-url", sqlite_url)
    assert code == 2
    assert err.count("\n") == 1 and "run `oracle db upgrade`" in err


def test_unreachable_database_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "audit", "list", "--db-url", "postgresql://nobody@127.0.0.1:1/none")
    assert code == 1 and err.startswith("error: cannot connect to the database") and "Traceback" not in err


def test_audit_verify_list_show_and_tamper(engine, db_url: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(engine)
    for i in range(4):
        log.append("price.round", {"round": i}, ref=f"r{i}")
    code, out, _ = run(capsys, "audit", "verify", "--db-url", db_url)
    assert code == 0 and "4 entries verified" in out

    code, out, _ = run(capsys, "audit", "list", "--db-url", db_url, "--format", "json", "--ref", "r2")
    records = json.loads(out)
    assert code == 0 and [r["seq"] for r in records] == [3] and records[0]["payload"] == {"round": 2}
    code, out, _ = run(capsys, "audit", "list", "--db-url", db_url, "--format", "csv", "--since", "1h")
    assert out.splitlines()[0].startswith("seq,ts,kind") and len(out.splitlines()) == 5
    code, out, _ = run(capsys, "audit", "show", "2", "--db-url", db_url)
    assert json.loads(out)["ref"] == "r1"
    code, _, err = run(capsys, "audit", "show", "99", "--db-url", db_url)
    assert code == 2 and "no audit entry 99" in err

    with make_engine(db_url).begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET payload = '{\"round\":7}' WHERE seq = 2")
    code, _, err = run(capsys, "audit", "verify", "--db-url", db_url)
    assert code == 1 and "entry 2" in err and "BROKEN" in err


def test_audit_verify_names_a_deleted_entry(engine, db_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(engine)
    for i in range(4):
        log.append("job.run", {"i": i})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    code, _, err = run(capsys, "audit", "verify", "--db-url", db_url)
    assert code == 1 and "entry 4" in err and "deleted" in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["db", "--help"], ["db", "upgrade", "--help"], ["audit", "list", "--help"],
                 ["audit", "verify", "--help"]):
        code, out, _ = run(capsys, *args)
        assert code == 0 and "Usage" in out


def test_bad_time_filter_is_exit_2(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "db", "upgrade", "--db-url", sqlite_url)
    code, _, err = run(capsys, "audit", "list", "--since", "yesterday-ish", "--db-url", sqlite_url)
    assert code == 2 and "--since 'yesterday-ish'" in err

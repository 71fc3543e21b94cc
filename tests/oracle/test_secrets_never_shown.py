"""Every config and connection error, with secrets set in every place (environment, TOML file,
secrets directory, URLs, wrongly nested names): one line, the right exit code, and no secret in
stdout, stderr or the log lines (the daemon's own JSON logs included)."""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oracle.cli import main
from oracle.logs import JsonFormatter
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

SECRETS = {
    "url": "pw-in-url-7f3a", "backend": "tok-backend-91c2", "api": "tok-api-55d0",
    "keystore": "ks-pass-e1b7", "dbpass": "db-pass-0a9c", "file": "file-secret-44aa",
    "json": "json-secret-b2b2", "toml": "toml-secret-c3c3",
}
S = SECRETS


ROOT = Path(__file__).resolve().parents[2]


def closed() -> int:
    """A port nothing listens on."""
    return 1


# (name, argv, environment, TOML file body or None, secrets_dir files, exit code, needle)
CASES: list[tuple[str, list[str], dict[str, str], str | None, dict[str, str], int, str]] = [
    ("bad scheme in ORACLE_DATABASE_URL", ["db", "current"],
     {"ORACLE_DATABASE_URL": f"postgresq://postgres:{S['url']}@127.0.0.1/x"}, None, {}, 2,
     "database_url"),
    ("non-numeric port in --db-url", ["db", "current", "--db-url",
                                      f"postgresql://postgres:{S['url']}@127.0.0.1:abc/test"],
     {}, None, {}, 2, "port is not a number"),
    ("an '@' in the password", ["db", "current", "--db-url",
                                "postgresql://postgres:x@{url}@127.0.0.1:{port}/t"],
     {}, None, {}, 2, "write it as %40"),
    ("nothing listening, password in --db-url", ["db", "current", "--db-url",
                                                 "postgresql://postgres:{url}@127.0.0.1:{port}/t"],
     {}, None, {}, 1, "cannot connect"),
    ("nothing listening, ORACLE_DATABASE_PASSWORD", ["db", "upgrade", "--db-url",
                                                     "postgresql://postgres@127.0.0.1:{port}/t"],
     {"ORACLE_DATABASE_PASSWORD": S["dbpass"]}, None, {}, 1, "cannot connect"),
    ("nothing listening, database_password file", ["db", "current", "--db-url",
                                                   "postgresql://u@127.0.0.1:{port}/t"],
     {"ORACLE_SECRETS_DIR": "{secrets}"}, None, {"database_password": S["file"]}, 1,
     "cannot connect"),
    ("ORACLE_BACKEND__TOKEN", ["db", "current"], {"ORACLE_BACKEND__TOKEN": S["backend"]}, None,
     {}, 2, "unknown setting 'backend.token'"),
    ("ORACLE_API__TOKEN", ["serve"], {"ORACLE_API__TOKEN": S["api"]}, None, {}, 2,
     "unknown setting 'api.token'"),
    ("ORACLE_CHAIN__KEYSTORE_PASSWORD", ["run"],
     {"ORACLE_CHAIN__KEYSTORE_PASSWORD": S["keystore"]}, None, {}, 2,
     "unknown setting 'chain.keystore_password'"),
    ("section as JSON", ["db", "current"],
     {"ORACLE_CHAIN": f'{{"keystore_password": "{S["json"]}"}}'}, None, {}, 2,
     "unknown setting 'chain.keystore_password'"),
    ("section as broken JSON", ["db", "current"],
     {"ORACLE_BACKEND": f'{{"token": "{S["json"]}"'}, None, {}, 2, "environment"),
    ("token in the TOML file", ["db", "current"], {}, f'[backend]\ntoken = "{S["toml"]}"\n', {},
     2, "unknown setting 'backend.token'"),
    ("password section in the TOML file", ["db", "current"], {},
     f'[database]\npassword = "{S["toml"]}"\n', {}, 2, "unknown setting 'database'"),
    ("bad port in the TOML database_url", ["db", "current"], {},
     f'database_url = "postgresql://u:{S["toml"]}@127.0.0.1:abc/x"\n', {}, 2, "database_url"),
    ("backend down, token and URL password", ["ingest", "--no-weather", "--backend-url",
                                              "http://oracle:{url}@127.0.0.1:{port}",
                                              "--db-url", "{sqlite}"],
     {"ORACLE_BACKEND_TOKEN": S["backend"], "ORACLE_BACKEND__RETRIES": "0"}, None, {}, 1,
     "cannot connect"),
    ("unreadable secret file", ["ingest", "--db-url", "{sqlite}"],
     {"ORACLE_SECRETS_DIR": "{secrets}", "ORACLE_KEYSTORE_PASSWORD": S["keystore"]}, None,
     {"backend_token": "\udcff"}, 2, "backend_token"),
]


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The JSON log lines everything writes while a case runs (DEBUG and up)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level, before = root.level, root.handlers[:]
    root.handlers[:] = [handler]  # only this case's lines: not a handler an earlier CLI call left
    root.setLevel(logging.DEBUG)
    yield stream
    root.handlers[:] = before
    root.setLevel(level)


def fill(value: str, tmp_path: Path, port: int) -> str:
    for name, filled in (("{url}", S["url"]), ("{port}", str(port)),
                         ("{secrets}", str(tmp_path / "secrets")),
                         ("{sqlite}", f"sqlite:///{tmp_path}/oracle.db")):
        value = value.replace(name, filled)
    return value


@pytest.mark.parametrize(("name", "argv", "env", "toml", "files", "code", "needle"), CASES,
                         ids=[c[0] for c in CASES])
def test_no_secret_is_shown(name: str, argv: list[str], env: dict[str, str], toml: str | None,
                            files: dict[str, str], code: int, needle: str, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                            log_lines: io.StringIO) -> None:
    port = closed()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()
    for file, content in files.items():
        (tmp_path / "secrets" / file).write_bytes(content.encode("utf-8", "surrogateescape"))
    for key in [k for k in os.environ if k.startswith("ORACLE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, fill(value, tmp_path, port))
    args = [fill(a, tmp_path, port) for a in argv]
    if "{sqlite}" in argv:
        upgrade(make_engine(fill("{sqlite}", tmp_path, port)))
    if toml is not None:
        (tmp_path / "oracle.toml").write_text(toml)
        args += ["--config", str(tmp_path / "oracle.toml")]
    assert main(args) == code
    out = capsys.readouterr()
    logs = log_lines.getvalue()
    for secret in SECRETS.values():
        assert secret not in out.out and secret not in out.err and secret not in logs, name
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], out.err
    assert "Traceback" not in out.err + logs


def test_the_daemon_logs_no_secret(tmp_path: Path) -> None:
    """`oracle run` with its JSON logs on stderr: a backend that is down behind a URL with a
    password, a token, a keystore password; the tick fails and is logged, the secrets are not."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORACLE_")}
    env.update({
        "PYTHONPATH": str(ROOT), "ORACLE_DATA_DIR": str(tmp_path / "var"),
        "ORACLE_DATABASE_URL": f"sqlite:///{tmp_path}/oracle.db",
        "ORACLE_BACKEND__URL": f"http://oracle:{S['url']}@127.0.0.1:{closed()}",
        "ORACLE_BACKEND__RETRIES": "0", "ORACLE_BACKEND_TOKEN": S["backend"],
        "ORACLE_KEYSTORE_PASSWORD": S["keystore"], "ORACLE_API_TOKEN": S["api"],
        "ORACLE_LOG_LEVEL": "DEBUG", "ORACLE_SCHEDULER__PRICING_EVERY_S": "1"})
    oracle = [sys.executable, "-c", "from oracle.cli import run; run()"]
    upgrade(make_engine(f"sqlite:///{tmp_path}/oracle.db"))
    process = subprocess.Popen([*oracle, "run", "--no-api"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(1)
            if _job_logged(tmp_path):
                break
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert "job tick: retry (SourceUnavailable" in err, err[-2000:]
    for secret in SECRETS.values():
        assert secret not in out and secret not in err


def _job_logged(tmp_path: Path) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path}/oracle.db")
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM job_runs WHERE job = 'tick'"))
                        .scalar())
    except Exception:
        return False
    finally:
        engine.dispose()

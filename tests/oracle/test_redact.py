"""The redaction rule: URL passwords, secret-named fields and remembered secrets become ***."""

from __future__ import annotations

import json
import logging

import pytest

from oracle import redact as redaction
from oracle.errors import ConfigError, SourceUnavailable
from oracle.logs import JsonFormatter, RedactingFormatter
from oracle.redact import MASK, is_secret_name, one_line, redact, remember, shown


@pytest.fixture(autouse=True)
def no_remembered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The remembered secrets are process-wide; other tests' secrets must not mask words here."""
    monkeypatch.setattr(redaction, "_known", set())


@pytest.mark.parametrize(("text", "secret"), [
    ("cannot connect to postgresql://postgres:pw-9x@127.0.0.1:5432/test", "pw-9x"),
    ("postgresql+psycopg://u:p%40ss@db/x?sslmode=require", "p%40ss"),
    ("GET http://user:s3cr3t@backend:8600/api/v1/meters failed", "s3cr3t"),
    ("redis://:onlypass@cache:6379/0", "onlypass"),
    ("ORACLE_BACKEND__TOKEN=abc123 was set", "abc123"),
    ("GET /x?token=abc123&page=2", "abc123"),
    ('{"keystore_password": "hunter22", "n": 1}', "hunter22"),
    ("{'api_token': 'hunter22'}", "hunter22"),
    ("setting 'chain.keystore_password' = 'hunter22': bad", "hunter22"),
    ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
    ("secret_key: abcdef", "abcdef"),
    ("PASSWORD=Xyz987", "Xyz987"),
])
def test_secrets_in_every_form_are_masked(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked and MASK in masked


def test_ordinary_text_is_left_alone() -> None:
    text = ("ingested 40 readings for [2000-06-05 00:00, 2000-06-05 10:00) from "
            "http://127.0.0.1:8600 (meter m-1, node n-1)")
    assert redact(text) == text
    path = "cannot decrypt keystore '/var/lib/oracle/keystore.json': wrong password"
    assert redact(path) == path  # a path holding "key" is not a field
    assert redact("postgresql://postgres@127.0.0.1/test") == "postgresql://postgres@127.0.0.1/test"


def test_remembered_values_are_masked_anywhere() -> None:
    remember("Zq8-remembered-value")
    remember("abc")  # too short to mask safely
    assert redact("oops: Zq8-remembered-value leaked") == f"oops: {MASK} leaked"
    assert redact("abc") == "abc"


def test_shown_masks_by_field_name() -> None:
    assert is_secret_name("backend.token") and is_secret_name("ORACLE_CHAIN__KEYSTORE_PASSWORD")
    assert not is_secret_name("chain.confirmations")
    assert shown("api.token", "x" * 10) == MASK
    assert shown("chain.confirmations", -1) == "-1"
    assert shown("database_url", "postgresql://u:pw@h/db") == "'postgresql://u:***@h/db'"
    assert len(shown("x", "y" * 1000)) <= 80


def test_errors_redact_their_message_when_made() -> None:
    err = SourceUnavailable("GET http://u:leaky-pass@h/x: cannot connect")
    assert "leaky-pass" not in str(err) and "http://u:***@h/x" in str(err)
    config = ConfigError("bad", key="backend.token", value="leaky-pass")
    assert config.value == MASK


def test_one_line_collapses_and_masks() -> None:
    assert one_line("a\n  b\tpassword=x1y2z3\n") == f"a b password={MASK}"


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("oracle.test", logging.WARNING, __file__, 1, message, args, info)


def test_log_formatters_mask_message_arguments_and_tracebacks() -> None:
    try:
        raise RuntimeError("connect postgresql://u:tb-secret@h/db")
    except RuntimeError as err:
        exc = err
    for formatter in (JsonFormatter(), RedactingFormatter("%(message)s")):
        line = formatter.format(record("backend %s token=%s", "http://a:arg-secret@h", "t0ken9",
                                       exc=exc))
        for secret in ("tb-secret", "arg-secret", "t0ken9"):
            assert secret not in line
    entry = json.loads(JsonFormatter().format(record("plain")))
    assert entry["message"] == "plain" and entry["level"] == "warning"


@pytest.mark.parametrize(("url", "user", "password"), [
    ("postgresql://u:pw@db/x", "u", "pw"),
    ("http://u:p%40ss@h:1/", "u", "p%40ss"),
    ("http://u:p@ss@h:1/", "u", "p@ss"),
    ("http://h:8080/x?mail=a@b", "", None),  # an @ in the query is not userinfo
    ("http://tok3n@h/", "tok3n", None),
    ("sqlite:///var/x.db", "", None),
    ("not a url", "", None),
])
def test_url_userinfo_is_split_at_the_last_at_sign_before_the_query(
        url: str, user: str, password: str | None) -> None:
    assert redaction.url_userinfo(url) == (user, password)


def test_a_url_password_is_masked_later_even_where_a_parser_split_it() -> None:
    """A short URL password is masked in later messages, as written and percent-decoded."""
    redaction.remember_url("http://oracle:p%40ss1@127.0.0.1:8600/")
    assert redact("login p%40ss1 refused") == f"login {MASK} refused"
    assert redact("login p@ss1 refused") == f"login {MASK} refused"
    redaction.remember_url("http://oracle:ab@127.0.0.1/")  # too short: would mask ordinary words
    assert redact("a tab b") == "a tab b"

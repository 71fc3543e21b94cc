"""The one redaction rule for every message and log line the oracle writes.

- a URL loses its password: ``postgresql://user:***@host/db``;
- the value of any field whose name holds token, password, secret or key (also passwd,
  credential, authorization) is shown as ``***``, in ``name=value``, ``name: value``,
  ``"name": "value"`` and ``'name' = 'value'`` forms;
- every secret value the oracle has read (:func:`remember`) is masked wherever it appears.

    redact("cannot connect to postgresql://u:pw@db/x")   # -> "... postgresql://u:***@db/x"
    shown("backend.token", "abc")                        # -> "***"

Config errors, connection errors, the CLI's one-line errors, /readyz and the log formatters all
pass their text through :func:`redact`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"
SECRET_WORDS = ("token", "password", "passwd", "secret", "key", "credential", "authorization")
MIN_REMEMBERED = 8  # shorter values ("pw", "wrong") would mask ordinary words

_WORDS = "|".join(SECRET_WORDS)
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"]*):[^\s'\"]*@")
_NAME = r"[\w.\-]*(?:" + _WORDS + r")[\w.\-]*"
_VALUE = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|(?:Bearer\s+|Basic\s+)?[^\s&,;)\]}'"]+"""
_FIELD = re.compile(
    r"(?<![\w/.\-])"  # a name, not the tail of a path or of a longer word
    + "(?P<name>" + '"' + _NAME + '"' + "|'" + _NAME + "'|" + _NAME + ")"
    + r"(?P<sep>\s*[=:]\s*)"
    + "(?P<value>" + _VALUE + ")",
    re.IGNORECASE)

_known: set[str] = set()
_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    """Whether a field, key or variable name marks its value as a secret."""
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def remember(value: str | None) -> None:
    """Mask ``value`` from now on wherever it appears (secrets read from env, files, URLs)."""
    if value and len(value) >= MIN_REMEMBERED:
        with _lock:
            _known.add(value)


URL_PASSWORD_MIN = 4  # a URL's password is a secret by position, so shorter ones are masked too


def url_userinfo(url: str) -> tuple[str, str | None]:
    """The user and password of ``scheme://user:password@host/...`` (``("", None)`` if none).

    The query and fragment are cut first, so an ``@`` there is not taken for the userinfo.
    """
    _, sep, rest = url.partition("://")
    if not sep:
        return "", None
    authority_and_path = re.split(r"[?#]", rest, maxsplit=1)[0]
    userinfo, at, _ = authority_and_path.rpartition("@")
    if not at:
        return "", None
    user, colon, password = userinfo.partition(":")
    return user, (password if colon else None)


def remember_url(url: str) -> None:
    """Mask the password of ``url`` (as written and percent-decoded) in every later message."""
    from urllib.parse import unquote

    _, password = url_userinfo(url)
    if password and len(password) >= URL_PASSWORD_MIN:
        with _lock:
            _known.add(password)
            if len(unquote(password)) >= URL_PASSWORD_MIN:
                _known.add(unquote(password))


def _field(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('name')}{match.group('sep')}{quote}{MASK}{quote}"


def redact(text: str) -> str:
    """``text`` with URL passwords, secret-named fields and remembered secrets masked."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _FIELD.sub(_field, text)


def shown(name: str, value: Any, limit: int = 80) -> str:
    """How the value of field ``name`` may be printed: ``***`` for a secret, else a short repr."""
    if is_secret_name(name):
        return MASK
    text = redact(repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str) -> str:
    """A redacted message on one line (for the CLI's error line)."""
    return redact(" ".join(text.split()))

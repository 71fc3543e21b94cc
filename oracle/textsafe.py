"""Text from outside, made safe to print and to store: one line, bounded, no NUL, valid UTF-8.

PostgreSQL refuses NUL in text, a terminal or log reader is confused by control characters,
a lone surrogate (JSON allows ``"\ud800"``) cannot be encoded for a database or a terminal at
all, and an error message must never carry more than a short excerpt of what it complains about.

    printable("a\\x00b\\nc", 80)    # 'a\\x00b c'  (NUL shown escaped, newline as a space)
    storable("a\\x00b", 64)         # 'ab'        (NUL dropped, other text kept as is)
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029]+")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def utf8(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udXXX`` escapes, so it encodes as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def printable(value: object, limit: int = 80) -> str:
    """``value`` (a string as is, anything else as its repr) on one line of at most ``limit``
    characters; control characters shown as ``\\xNN`` escapes."""
    text = utf8(value if isinstance(value, str) else repr(value))
    text = _LINE_BREAKS.sub(" ", text[: limit * 4])
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return _truncate(text, limit)


def storable(value: str, limit: int) -> str:
    """``value`` without NUL characters, cut to ``limit`` characters (for any SQL backend)."""
    return _truncate(utf8(value.replace("\x00", "")), limit)

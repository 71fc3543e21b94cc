"""JSON parsing with a nesting cap, for every document that comes from outside.

The C decoder recurses once per nesting level. py-evm and py_ecc raise the interpreter's
recursion limit to 100,000 when they are imported, so a body of ``[`` x 100,000 would overflow
the C stack (a segfault) instead of raising ``RecursionError``. :func:`loads` measures the
nesting first, in one linear scan that skips string literals, and refuses a document nested
deeper than ``max_depth`` before the decoder sees it.

    loads(text)                      # any JSON value, nesting <= 64
    loads(text, max_depth=8)
    JsonRejected                     # ValueError: what was wrong, never the document itself

Callers translate :class:`JsonRejected` into their own typed error (``SourceDataInvalid``, a
422, a CLI input error) where it enters their code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64
EXCERPT_CHARS = 80

# Every byte but brackets and quotes, deleted before the brackets are counted.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_OPENERS = frozenset(b"[{")


class JsonRejected(ValueError):
    """The document is not JSON, or is nested deeper than allowed; says which, briefly."""


def nesting_depth(text: str | bytes, limit: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not
    count); stops early past ``limit``.

    Done with bytes methods, which run in C: escaped backslashes and quotes are dropped, then
    everything but brackets and quotes, then what lies between quotes. (UTF-8 never uses an
    ASCII byte inside a multi-byte character, so this is exact. An unterminated string hides
    the brackets after it, which the decoder then refuses without recursing into them.)
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(data.translate(None, _NOT_STRUCTURE).split(b'"')[::2])
    depth = deepest = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    return deepest
        else:
            depth -= 1
    return deepest


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, single-line excerpt of untrusted input for an error message."""
    flat = " ".join(text[: limit * 2].split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH,
          object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
          parse_constant: Callable[[str], Any] | None = None,
          parse_int: Callable[[str], Any] | None = None) -> Any:
    """Parse one JSON document whose arrays and objects nest at most ``max_depth`` deep."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as err:
            raise JsonRejected(f"not UTF-8 text (byte {err.start})") from None
    else:
        text = data
    depth = nesting_depth(bytes(data) if isinstance(data, bytes | bytearray) else text,
                          limit=max_depth)
    if depth > max_depth:
        raise JsonRejected(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook,
                          parse_constant=parse_constant, parse_int=parse_int)
    except RecursionError:  # cannot happen below the cap; kept so no caller ever sees it
        raise JsonRejected(f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as err:
        raise JsonRejected(f"not valid JSON at line {err.lineno} column {err.colno}: "
                           f"{err.msg}") from None

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
import re
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 64
EXCERPT_CHARS = 80

# A string literal (skipped whole, escapes included) or one bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPENERS = frozenset("[{")


class JsonRejected(ValueError):
    """The document is not JSON, or is nested deeper than allowed; says which, briefly."""


def nesting_depth(text: str, limit: int | None = None) -> int:
    """The deepest nesting of arrays and objects in ``text``; stops early past ``limit``."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in _OPENERS:
            depth += 1
            if depth > deepest:
                deepest = depth
                if limit is not None and deepest > limit:
                    return deepest
        elif token in "]}":
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
    depth = nesting_depth(text, limit=max_depth)
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

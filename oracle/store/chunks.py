"""Long id lists cut so that every statement stays under both drivers' bound-parameter limits.

SQLAlchemy binds each element of an ``IN`` list as its own parameter. PostgreSQL's protocol
carries at most 65,535 parameters per statement (psycopg refuses more); SQLite's default
``SQLITE_MAX_VARIABLE_NUMBER`` is 32,766 (some builds raise it, none may be assumed to). A
query over a fleet of 100,000 meters is therefore run once per chunk of ids and its results
combined by the caller.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

PG_MAX_PARAMETERS = 65_535
SQLITE_MAX_PARAMETERS = 32_766
MAX_PARAMETERS = min(PG_MAX_PARAMETERS, SQLITE_MAX_PARAMETERS)
IDS_PER_STATEMENT = 10_000  # far below MAX_PARAMETERS: room for the statement's other bounds

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = IDS_PER_STATEMENT) -> Iterator[Sequence[T]]:
    """``items`` in order, ``size`` at a time (the last chunk may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size {size}: must be at least 1")
    for start in range(0, len(items), size):
        yield items[start:start + size]

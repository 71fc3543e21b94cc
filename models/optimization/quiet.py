"""Keep native solver banners off stdout.

HiGHS prints "Running HiGHS ..." from C++ when a solver object is made, before any option
(``output_flag``) applies, straight to file descriptor 1: in the middle of `oracle demo`'s table
and of JSON output. This points fd 1 at /dev/null for the duration of a solve.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_LOCK = threading.Lock()  # fd 1 is process-wide: one redirect at a time


@contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Discard what native code writes to fd 1 inside the block (Python's own stdout is
    flushed first, so nothing printed before is lost)."""
    with _LOCK:
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError, AttributeError):  # no real fd 1 (embedded, closed)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            with suppress(OSError, ValueError):
                sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)

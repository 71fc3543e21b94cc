"""JSON lines on stderr for the daemon (one object per record: time, level, logger, message).

Every line, its message and any traceback, passes the redaction rule (``oracle.redact``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from oracle.redact import redact


class RedactingFormatter(logging.Formatter):
    """A plain text formatter whose output never shows a secret."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": redact(record.getMessage())}
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when it was made, so
    a handler installed under a redirected stderr never writes to a closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:  # logging.StreamHandler assigns it in __init__
        pass


def configure(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if json_lines else
                         RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries chatter at INFO (alembic: "Running upgrade", APScheduler: "Added job"); INFO is
    # for operator-relevant events, so theirs are kept from WARNING up.
    for noisy in ("apscheduler", "alembic", "httpx", "uvicorn.access", "web3", "eth"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # psycopg sets its own logger to WARNING on import, which the root's level cannot raise: a
    # command at ERROR would still print its clean-up notes ("error ignored terminating
    # <Pipeline>") after the one error line that already says what happened
    logging.getLogger("psycopg").setLevel(max(logging.WARNING, root.level))
    for server in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # through our handler only
        logging.getLogger(server).handlers[:] = []
        logging.getLogger(server).propagate = True

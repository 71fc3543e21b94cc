"""Leader lock: two daemons on one database never both submit.

PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released by the
server when the holder's connection dies, so a standby takes over when the leader dies. The lock
is keyed by the schema, so oracles in different schemas of one database do not exclude each other.
SQLite: an OS file lock next to the database (released by the kernel when the process dies).

The PostgreSQL lock lives only as long as its connection: when the server ends that connection
(a restart, ``pg_terminate_backend``, a network cut, an idle timeout) the lock is gone and a
standby may hold it already. So every ``try_acquire`` while leading first asks the server on the
same connection whether the lock is still ours, and steps down (logged once) when it is not.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from oracle.errors import StoreUnavailable

log = logging.getLogger(__name__)

LOCK_KEY = 0x501C_0A1E  # advisory lock class of the daemon's leadership (second key: the schema)
# Two-key advisory locks show in pg_locks as classid = key 1, objid = key 2 (as oid), objsubid = 2.
_STILL_OURS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = :k AND objsubid = 2"
    " AND objid = (hashtext(current_schema())::bigint & 4294967295)::oid")


class LeaderLock:
    """Try to become the leader; ``held`` says whether this process is."""

    def __init__(self, engine: Engine, lock_dir: Path) -> None:
        self.engine = engine
        self.lock_dir = lock_dir
        self._conn: Any = None
        self._file: FileLock | None = None

    @property
    def held(self) -> bool:
        if self._file is not None:
            return self._file.is_locked
        return self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks. Returns whether we hold it."""
        if self._conn is not None and not self._still_ours():
            log.warning("leadership lost: the database ended the lock's connection; "
                        "standing by until the lock is free again")
            self._drop_connection()
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"),
                               {"k": LOCK_KEY}).scalar_one()
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return bool(got)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_dir / "oracle.store.leader.lock"), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._file = lock
        return True

    def _still_ours(self) -> bool:
        try:
            held = self._conn.execute(_STILL_OURS, {"k": LOCK_KEY}).scalar_one()
            self._conn.commit()
        except (DBAPIError, StoreUnavailable):  # the engine translates a lost connection
            return False
        return bool(held)

    def _drop_connection(self) -> None:
        with contextlib.suppress(DBAPIError, StoreUnavailable):
            self._conn.invalidate()  # never hand a dead connection back to the pool
        self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"),
                                   {"k": LOCK_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._conn = None
        if self._file is not None:
            self._file.release()
            self._file = None

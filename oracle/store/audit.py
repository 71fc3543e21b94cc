"""The tamper-evident audit log: append-only, each entry hash-chained to the one before.

``hash = sha256(canonical_json({seq, ts, kind, ref, actor, payload, prev_hash}))`` where
``payload`` is the canonical JSON text exactly as stored. Editing any column of a row, deleting
a row, or re-ordering rows breaks the chain at that entry, and ``verify`` names it. (Removing
entries from the *end* leaves a shorter valid chain; anchor the head hash elsewhere, e.g. in
on-chain reports, to detect that.)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from oracle.errors import AuditChainBroken
from oracle.store.engine import session_scope
from oracle.store.tables import AuditEntry

GENESIS_HASH = "0" * 64
_PG_LOCK_KEY = 0x501C_A1D1  # advisory lock id serialising appends on PostgreSQL
_RETRIES = 20


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot put {type(value).__name__} in the audit log")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, non-finite floats as strings."""
    return json.dumps(_finite(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default, allow_nan=False)


def as_utc(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def entry_hash(seq: int, ts: datetime, kind: str, ref: str | None, actor: str, payload: str,
               prev_hash: str) -> str:
    body = canonical_json({"seq": seq, "ts": as_utc(ts).isoformat(), "kind": kind, "ref": ref,
                           "actor": actor, "payload": payload, "prev_hash": prev_hash})
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None


def _lock(session: Session) -> None:
    """Take the append lock: an advisory lock on PostgreSQL, SQLite's write lock otherwise."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
                        {"k": _PG_LOCK_KEY})
    else:
        session.execute(text("DELETE FROM audit_log WHERE 1 = 0"))


def append_entry(session: Session, kind: str, payload: Any, *, ref: str | None = None,
                 actor: str = "oracle") -> AuditEntry:
    """Append inside the caller's transaction, so the entry commits with what it describes."""
    _lock(session)
    last = session.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS_HASH if last is None else last.hash
    ts = datetime.now(UTC)
    body = canonical_json(payload)
    entry = AuditEntry(seq=seq, ts=ts, kind=kind, ref=ref, actor=actor, payload=body,
                       prev_hash=prev, hash=entry_hash(seq, ts, kind, ref, actor, body, prev))
    session.add(entry)
    session.flush()
    return entry


def entries(session: Session, kind: str, ref: str, *, newest_first: bool = False,
            limit: int | None = None) -> list[AuditEntry]:
    """The entries of ``kind`` about ``ref`` in the caller's session, in log order (or newest
    first), at most ``limit``."""
    order = col(AuditEntry.seq).desc() if newest_first else col(AuditEntry.seq)
    query = select(AuditEntry).where(col(AuditEntry.kind) == kind,
                                     col(AuditEntry.ref) == ref).order_by(order)
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


class AuditLog:
    """Append, query and verify the audit log of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, kind: str, payload: Any, *, ref: str | None = None,
               actor: str = "oracle") -> AuditEntry:
        """Append in a transaction of its own, retrying if another writer took the same seq."""
        for attempt in range(_RETRIES):
            try:
                with session_scope(self.engine) as session:
                    return append_entry(session, kind, payload, ref=ref, actor=actor)
            except (IntegrityError, OperationalError):
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def get(self, seq: int) -> AuditEntry | None:
        with Session(self.engine) as session:
            return session.get(AuditEntry, seq)

    def list(self, *, since: datetime | None = None, until: datetime | None = None,
             kind: str | None = None, ref: str | None = None,
             limit: int | None = None) -> Sequence[AuditEntry]:
        query = select(AuditEntry).order_by(col(AuditEntry.seq))
        if since is not None:
            query = query.where(col(AuditEntry.ts) >= since)
        if until is not None:
            query = query.where(col(AuditEntry.ts) < until)
        if kind is not None:
            query = query.where(col(AuditEntry.kind) == kind)
        if ref is not None:
            query = query.where(col(AuditEntry.ref) == ref)
        if limit is not None:
            query = query.limit(limit)
        with Session(self.engine) as session:
            return session.exec(query).all()

    def count(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(AuditEntry)).one())

    def _iter(self, batch: int = 5000) -> Iterator[AuditEntry]:
        after = 0
        with Session(self.engine) as session:
            while True:
                rows = session.exec(select(AuditEntry).where(col(AuditEntry.seq) > after)
                                    .order_by(col(AuditEntry.seq)).limit(batch)).all()
                if not rows:
                    return
                yield from rows
                after = rows[-1].seq

    def verify(self) -> Verification:
        """Walk the chain from the first entry; report the first entry that does not verify."""
        expected_seq, prev, checked = 1, GENESIS_HASH, 0
        for entry in self._iter():
            if entry.seq != expected_seq:
                return Verification(False, checked, entry.seq,
                                    f"entry {entry.seq}: expected entry {expected_seq} before it "
                                    "(an entry was deleted)")
            if entry.prev_hash != prev:
                return Verification(False, checked, entry.seq,
                                    f"entry {entry.seq}: prev_hash does not match entry "
                                    f"{entry.seq - 1}'s hash (an entry was edited or removed)")
            actual = entry_hash(entry.seq, entry.ts, entry.kind, entry.ref, entry.actor,
                                entry.payload, entry.prev_hash)
            if actual != entry.hash:
                return Verification(False, checked, entry.seq,
                                    f"entry {entry.seq}: content does not match its hash "
                                    "(the row was edited)")
            prev, expected_seq, checked = entry.hash, expected_seq + 1, checked + 1
        return Verification(True, checked)

    def verify_or_raise(self) -> int:
        result = self.verify()
        if not result.ok:
            assert result.broken_seq is not None
            raise AuditChainBroken(result.reason or "audit chain broken", seq=result.broken_seq)
        return result.checked

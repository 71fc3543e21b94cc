"""The quarantine: rejected rows kept with their reason, deduplicated, counted and capped.

A row is identified by (source, natural key, payload hash): the same bad row re-sent on every
pass adds to its ``count`` instead of adding a row. Text is cut to a sane size and NUL is
stripped (PostgreSQL refuses NUL in text); a payload too large is kept as an excerpt. Of a
page with more rejects than ``cap``, the first ``cap`` are kept in full and the rest are
counted in one summary row.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from oracle.store.tables import QuarantinedRow, utcnow
from oracle.store.upsert import upsert
from oracle.textsafe import storable, utf8

LIMITS = {"row_key": 300, "field": 200, "value": 500, "reason": 1000}
MAX_PAYLOAD_CHARS = 4000


def _clean(payload: Any) -> Any:
    """``payload`` with NUL stripped from every key and string, lone surrogates escaped."""
    if isinstance(payload, str):
        return utf8(payload.replace("\x00", ""))
    if isinstance(payload, dict):
        return {_clean(str(k)): _clean(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_clean(v) for v in payload]
    return payload


def _bounded(payload: Any) -> Any:
    text = json.dumps(payload, ensure_ascii=False, default=repr)
    if len(text) <= MAX_PAYLOAD_CHARS:
        return payload
    return {"excerpt": text[:1000], "chars": len(text)}


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()


def prepared_row(row: Mapping[str, Any], now: Any) -> dict[str, Any]:
    """The columns of one quarantine row: text cut to ``LIMITS`` without NUL, payload bounded,
    and the dedup key."""
    payload = _clean(row.get("payload"))
    payload_hash = row.get("payload_hash") or _digest(payload)
    out: dict[str, Any] = {"source": storable(str(row["source"]), 32)}
    for name, limit in LIMITS.items():
        value = row.get(name)
        out[name] = None if value is None else storable(str(value), limit)
    out["reason"] = out["reason"] or "(no reason given)"
    out.update(payload=_bounded(payload), payload_hash=payload_hash,
               dedup_key=_digest(out["source"], out["row_key"], payload_hash),
               count=int(row.get("count", 1)), received_at=now, last_seen_at=now)
    return out


def _overflow(rows: Sequence[Mapping[str, Any]], cap: int, page: str) -> dict[str, Any]:
    fields = Counter(str(r.get("field")) for r in rows)
    summary = {"rows": len(rows), "fields": dict(fields.most_common(10))}
    return {"source": rows[0]["source"], "row_key": f"(page {page})", "field": None,
            "value": None, "payload": summary, "count": len(rows),
            "reason": f"{len(rows)} more rejected rows on this page beyond the first {cap} "
                      f"(by field: {', '.join(f'{k} {n}' for k, n in fields.most_common(3))})"}


def quarantine(session: Session, rows: Sequence[Mapping[str, Any]], *, cap: int | None = None,
               page: str = "") -> int:
    """Keep rejected rows (``Rejected.as_row()`` dictionaries) with their reason; a row seen
    before is counted again. Beyond ``cap`` rows, one summary row per call. Returns the number
    of rejected rows counted."""
    if not rows:
        return 0
    if cap is not None and len(rows) > cap:
        rows = [*rows[:cap], _overflow(rows[cap:], cap, page)]
    now = utcnow()
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        prepared = prepared_row(row, now)
        earlier = merged.setdefault(prepared["dedup_key"], prepared)
        if earlier is not prepared:
            earlier["count"] += prepared["count"]
    upsert(session, QuarantinedRow, list(merged.values()), key=("dedup_key",),
           update=("last_seen_at",), add=("count",))
    return sum(r["count"] for r in merged.values())

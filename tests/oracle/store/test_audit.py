from __future__ import annotations

import itertools

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from oracle.errors import AuditChainBroken
from oracle.store.audit import GENESIS_HASH, AuditLog, append_entry, canonical_json, entries
from oracle.store.engine import session_scope


def _fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append("price.round", {"round": i, "price": 0.1 + i / 100}, ref=f"zone-1:{i}")


def test_intact_chain_verifies(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    result = log.verify()
    assert result.ok and result.checked == 5
    entries = log.list()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


def test_edited_row_breaks_chain_at_that_entry(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET payload = :p WHERE seq = 3"),
                     {"p": canonical_json({"round": 2, "price": 9.99})})
    result = log.verify()
    assert not result.ok and result.broken_seq == 3
    with pytest.raises(AuditChainBroken, match="entry 3"):
        log.verify_or_raise()


def test_edited_kind_breaks_chain(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET kind = 'nothing' WHERE seq = 2"))
    assert log.verify().broken_seq == 2


def test_deleted_row_breaks_chain_at_next_entry(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    result = log.verify()
    assert not result.ok and result.broken_seq == 3
    assert "deleted" in (result.reason or "")


def test_rehashed_edit_is_caught_by_the_next_link(engine: Engine) -> None:
    """An attacker who edits a row and recomputes its own hash still breaks the next link."""
    from oracle.store.audit import entry_hash

    log = AuditLog(engine)
    _fill(log)
    entry = log.get(2)
    assert entry is not None
    forged = canonical_json({"round": 1, "price": 0.0})
    new_hash = entry_hash(entry.seq, entry.ts, entry.kind, entry.ref, entry.actor, forged,
                          entry.prev_hash)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET payload = :p, hash = :h WHERE seq = 2"),
                     {"p": forged, "h": new_hash})
    assert log.verify().broken_seq == 3


def test_entry_commits_with_the_callers_transaction(engine: Engine) -> None:
    log = AuditLog(engine)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        append_entry(session, "job.run", {"ok": True})
        raise RuntimeError("job failed after auditing")
    assert log.count() == 0
    with session_scope(engine) as session:
        append_entry(session, "job.run", {"ok": True})
    assert log.count() == 1 and log.verify().ok


def test_list_filters(engine: Engine) -> None:
    log = AuditLog(engine)
    _fill(log, 3)
    log.append("anomaly.batch", {"count": 2}, ref="batch-1")
    assert [e.kind for e in log.list(kind="anomaly.batch")] == ["anomaly.batch"]
    assert [e.seq for e in log.list(ref="zone-1:1")] == [2]
    assert len(log.list(limit=2)) == 2


def test_entries_of_a_kind_about_a_ref_in_the_callers_session(engine: Engine) -> None:
    log = AuditLog(engine)
    log.append("model.promote", {"v": 1}, ref="model:gbm")
    log.append("model.promote", {"v": 1}, ref="model:arima")
    log.append("model.register", {"v": 2}, ref="model:gbm")
    log.append("model.promote", {"v": 2}, ref="model:gbm")
    with session_scope(engine) as session:
        append_entry(session, "model.promote", {"v": 3}, ref="model:gbm")  # not committed yet
        assert [e.seq for e in entries(session, "model.promote", "model:gbm")] == [1, 4, 5]
        assert [e.seq for e in entries(session, "model.promote", "model:gbm",
                                       newest_first=True)] == [5, 4, 1]
        assert [e.seq for e in entries(session, "model.promote", "model:gbm", limit=1)] == [1]
        assert entries(session, "model.rollback", "model:gbm") == []


def test_canonical_json_is_deterministic_and_rejects_unknown_types() -> None:
    assert canonical_json({"b": 1, "a": [1.5, float("nan")]}) == '{"a":[1.5,"nan"],"b":1}'
    with pytest.raises(TypeError, match="audit log"):
        canonical_json({"x": object()})

"""The tx store on SQLite and PostgreSQL: idempotent reports and attempts, atomic transitions,
a next nonce that only a sync moves back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

from oracle.store.engine import session_scope
from oracle.store.outbox import (
    Outbox,
    confirmed_attempts,
    latest_attempt,
    open_report_ids,
    reports_by_id,
)
from oracle.store.tables import ChainTransaction

T0 = datetime(2024, 6, 1, tzinfo=UTC)
ADDRESS = "0x" + "ab" * 20


def _outbox(engine: Engine) -> Outbox:
    return Outbox(engine, 31337, ADDRESS)


def _report(box: Outbox, rid: str) -> bool:
    return box.add_report(report_id=rid, kind="price", contract="EnergyPriceOracle",
                          interval_start=T0, payload={"to": ADDRESS, "data": "0x01"},
                          payload_hash="00")


def _attempt(box: Outbox, rid: str, nonce: int, tx_hash: str, fee: int = 10) -> ChainTransaction:
    return box.add_attempt(report_id=rid, nonce=nonce, tx_hash=tx_hash, raw_tx="0x02",
                           to_address=ADDRESS, max_fee=fee, priority=1, gas_limit=90_000,
                           head=7)


def _h(n: int) -> str:
    return "0x" + f"{n:064x}"


def test_a_report_and_an_attempt_are_written_once(engine: Engine) -> None:
    box = _outbox(engine)
    assert _report(box, "r1") and not _report(box, "r1")
    _attempt(box, "r1", 0, _h(1))
    box.drop_attempt(_h(1), "fee too low")
    again = _attempt(box, "r1", 0, _h(1))  # the same bytes signed again: the same row
    assert again.status == "signed"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 1
    assert [r.report_id for r in box.reports("pending")] == ["r1"]


def test_broadcast_and_receipts_move_report_attempts_and_nonce_together(engine: Engine) -> None:
    box = _outbox(engine)
    _report(box, "r1")
    _attempt(box, "r1", 4, _h(1))
    box.mark_broadcast(_h(1), head=8)
    assert box.next_nonce() == 5 and box.report("r1").status == "broadcast"  # type: ignore[union-attr]
    _attempt(box, "r1", 4, _h(2), fee=20)  # a fee bump at the same nonce
    box.mark_broadcast(_h(2), head=9)
    assert [a.status for a in box.attempts(report_id="r1")] == ["replaced", "broadcast"]
    box.mark_mined(_h(1), block_number=10, block_hash=_h(10), gas_used=50_000,
                   effective_gas_price=3, confirmed=True)  # the first one got in after all
    assert [a.status for a in box.attempts(report_id="r1")] == ["confirmed", "replaced"]
    assert box.report("r1").status == "confirmed"  # type: ignore[union-attr]
    assert [a.tx_hash for a in box.attempts(statuses=["confirmed"], mined_above=9)] == [_h(1)]
    assert box.attempts(statuses=["confirmed"], mined_above=10) == []
    box.mark_reorged(_h(1))
    assert box.report("r1").status == "broadcast"  # type: ignore[union-attr]
    assert box.attempts(report_id="r1")[0].block_number is None


def test_the_nonce_moves_back_only_when_set(engine: Engine) -> None:
    box = _outbox(engine)
    _report(box, "r1")
    box.set_next_nonce(9)
    _attempt(box, "r1", 3, _h(1))
    box.mark_broadcast(_h(1), head=1)
    assert box.next_nonce() == 9  # a broadcast never moves it back
    box.set_next_nonce(4)
    assert box.next_nonce() == 4


def test_release_puts_a_report_back_with_its_live_attempts_replaced(engine: Engine) -> None:
    box = _outbox(engine)
    _report(box, "r1")
    _report(box, "r2")
    _attempt(box, "r1", 0, _h(1))
    box.mark_broadcast(_h(1), head=1)
    box.release("r1")
    assert box.report("r1").status == "pending"  # type: ignore[union-attr]
    assert [a.status for a in box.attempts(report_id="r1")] == ["replaced"]
    assert [r.report_id for r in box.reports("pending")] == ["r1", "r2"]  # queue order
    assert Outbox(engine, 1, ADDRESS).attempts() == []  # another chain sees none of it


def test_reads_across_senders_see_every_address(engine: Engine) -> None:
    box, other = _outbox(engine), Outbox(engine, 1, "0x" + "cd" * 20)
    for rid in ("r1", "r2", "r3", "r4"):
        _report(box, rid)
    _attempt(box, "r1", 0, _h(1))
    _attempt(box, "r1", 0, _h(2), fee=20)
    box.mark_mined(_h(1), block_number=5, block_hash=_h(5), gas_used=40_000,
                   effective_gas_price=2, confirmed=True)
    _attempt(other, "r2", 0, _h(3))
    other.mark_mined(_h(3), block_number=6, block_hash=_h(6), gas_used=41_000,
                     effective_gas_price=2, confirmed=True)
    box.set_report("r3", "failed", "gave up")
    _attempt(other, "r4", 1, _h(4))
    with session_scope(engine) as session:
        assert sorted(open_report_ids(session)) == ["r4"]
        assert sorted(r.report_id for r in reports_by_id(session, ["r2", "r3", "nope"])) == [
            "r2", "r3"]
        assert reports_by_id(session, []) == []
        assert sorted(t.tx_hash for t in confirmed_attempts(session, ["r1", "r2", "r4"])) == [
            _h(1), _h(3)]
        newest = latest_attempt(session, "r1")
        assert newest is not None and newest.tx_hash == _h(2)  # the fee bump, written last
        assert latest_attempt(session, "r3") is None

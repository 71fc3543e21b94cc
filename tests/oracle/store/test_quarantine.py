"""The quarantine on SQLite and PostgreSQL: rows fit any backend, are deduplicated by (source,
natural key, payload hash) and counted, and are capped per page with one summary row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from oracle.sources.schemas import Rejected
from oracle.store import ingestion as repo
from oracle.store.quarantine import LIMITS, MAX_PAYLOAD_CHARS
from oracle.store.tables import QuarantinedRow

TABLE = QuarantinedRow.__table__  # type: ignore[attr-defined]


def rejected(key: str = "m1|2026-01-05T05:00:00Z", value: object = -1.0, **payload: object
             ) -> dict[str, object]:
    return Rejected(source="readings", row=3, row_key=key, field="consumption_kwh", value=value,
                    reason="negative energy", payload={"meter_id": "m1", **payload}).as_row()


def stored(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(select(TABLE).order_by(TABLE.c.id)).all())


def test_a_row_sent_again_is_counted_not_stored_again(engine: Engine) -> None:
    for _ in range(3):
        assert repo.store_quarantine(engine, [rejected(consumption_kwh=-1.0)]) == 1
    repo.store_quarantine(engine, [rejected(consumption_kwh=-2.0)])  # another payload
    repo.store_quarantine(engine, [rejected(key="m2|2026-01-05T05:00:00Z",
                                            consumption_kwh=-1.0)])  # another key
    rows = stored(engine)
    assert [r.count for r in rows] == [3, 1, 1]
    assert rows[0].last_seen_at >= rows[0].received_at


def test_duplicates_within_one_batch_are_merged(engine: Engine) -> None:
    row = rejected(consumption_kwh=-1.0)
    assert repo.store_quarantine(engine, [row, row, row]) == 3
    (only,) = stored(engine)
    assert only.count == 3


def test_text_fits_any_backend(engine: Engine) -> None:
    """NUL (PostgreSQL refuses it in text), keys and values far over the old varchar sizes."""
    row = Rejected(source="readings", row=0, row_key="m\x00" + "k" * 1000,
                   field="x" * 300 + "\x00", value="v\x00" * 2000, reason="r\x00" * 2000,
                   payload={"meter_id\x00": "m\x00", "blob": "b" * 50_000}).as_row()
    repo.store_quarantine(engine, [row])
    (kept,) = stored(engine)
    for name, limit in LIMITS.items():
        text = getattr(kept, name)
        assert "\x00" not in text and len(text) <= limit
    assert set(kept.payload) == {"excerpt", "chars"} and len(str(kept.payload)) < MAX_PAYLOAD_CHARS
    assert kept.payload["chars"] > 50_000


def test_a_page_beyond_the_cap_keeps_the_first_rows_and_counts_the_rest(engine: Engine) -> None:
    rows = [rejected(key=f"m1|{i}", consumption_kwh=-i) for i in range(250)]
    assert repo.store_quarantine(engine, rows, cap=100, page="[t0, t1) #0") == 250
    kept = stored(engine)
    assert len(kept) == 101 and sum(r.count for r in kept) == 250
    (summary,) = [r for r in kept if r.row_key == "(page [t0, t1) #0)"]
    assert summary.count == 150 and summary.payload == {"rows": 150,
                                                        "fields": {"consumption_kwh": 150}}
    repo.store_quarantine(engine, rows, cap=100, page="[t0, t1) #0")  # the same page again
    again = stored(engine)
    assert len(again) == 101 and sum(r.count for r in again) == 500


def test_long_and_odd_cursors_are_stored_whole(engine: Engine) -> None:
    t0, t1 = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)
    cursor = "é" * 3000 + "\u2028" + "~" * 1000  # JSON-escaped: far over the old varchar(500)
    repo.store_readings_batch(engine, [], [], walk=repo.Walk(t0, t1, cursor))
    assert repo.load_cursor(engine, "readings").walk == repo.Walk(t0, t1, cursor)

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from oracle.chain.reports import report_id, should_publish

T = datetime(2026, 1, 5, 10, tzinfo=UTC)
KW = {"deviation_percent": 0.5, "heartbeat_s": 3600}


def test_report_id_is_deterministic_and_utc() -> None:
    cet = T.astimezone(timezone(timedelta(hours=1)))
    assert report_id("price", "zone-1", T) == report_id("price", "zone-1", cet) == "price:zone-1:2026-01-05T10:00Z"
    assert report_id("price", "zone-1", T) != report_id("price", "zone-1", T + timedelta(hours=1))


def test_first_round_publishes() -> None:
    d = should_publish(0.20, T, None, None, **KW)
    assert d.publish and d.reason == "first"


def test_deviation_threshold() -> None:
    assert not should_publish(0.2009, T, 0.2, T - timedelta(minutes=5), **KW).publish  # 0.45%
    d = should_publish(0.2011, T, 0.2, T - timedelta(minutes=5), **KW)  # 0.55%
    assert d.publish and d.reason == "deviation" and d.deviation_percent is not None
    assert should_publish(0.1989, T, 0.2, T - timedelta(minutes=5), **KW).publish  # falls too


def test_heartbeat_republishes_an_unchanged_price() -> None:
    assert not should_publish(0.2, T, 0.2, T - timedelta(minutes=59), **KW).publish
    d = should_publish(0.2, T, 0.2, T - timedelta(hours=1), **KW)
    assert d.publish and d.reason == "heartbeat"


def test_no_trade_never_publishes() -> None:
    d = should_publish(None, T, 0.2, T - timedelta(days=1), **KW)
    assert not d.publish and d.reason == "no-trade"

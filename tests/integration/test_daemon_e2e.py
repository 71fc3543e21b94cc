"""`oracle run` end to end against real components on loopback: PostgreSQL, a hardhat node and the
reference backend replaying real data at 600x, all set up through the operator's CLI."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import daemon_harness as h  # tests/integration, on sys.path via pytest's rootdir import mode
import httpx
import pytest
from conftest import free_port
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle.chain.encoding import to_answer
from oracle.chain.reports import round_number
from oracle.store.engine import make_engine

pytestmark = [pytest.mark.postgres, pytest.mark.hardhat, pytest.mark.slow]

INTERVAL_S = 3600  # scheduler.interval_s default: one market interval per replay hour
FEED_DECIMALS = 8
TICKS = 3


@pytest.fixture
def stack(pg_schema: str, hardhat_url: str, tmp_path: Path) -> Iterator[h.Stack]:
    with h.deployed_stack(pg_schema, hardhat_url, tmp_path, api_port=free_port(),
                          backend_port=free_port()) as (stack, _):
        yield stack


@pytest.fixture
def store(stack: h.Stack) -> Iterator[Engine]:
    engine = make_engine(stack.env["ORACLE_DATABASE_URL"])
    yield engine
    engine.dispose()


def _settled_ticks(engine: Engine) -> list[object] | None:
    """The ticked intervals with every queued report confirmed, once there are TICKS of them
    and a price was published among them (the replay starts at local midnight: no trades yet)."""
    ticked = h.ticked_intervals(engine)
    queued = h.rows(engine, "SELECT kind, status, interval_start FROM reports")
    done = [t for t in ticked
            if all(status == "confirmed" for _, status, start in queued if start == t)
            and any(start == t for _, _, start in queued)]
    priced = any(kind == "price" and start in done for kind, _, start in queued)
    return done if len(done) >= TICKS and priced else None


def _state(engine: Engine) -> str:
    reports = h.rows(engine, "SELECT status, count(*) FROM reports GROUP BY status")
    return (f"ticked: {h.ticked_intervals(engine)}; price rounds: "
            f"{h.scalar(engine, 'SELECT count(*) FROM price_rounds')}; reports: {reports}\n")


def test_daemon_ticks_submits_serves_and_stops_cleanly(stack: h.Stack, store: Engine,
                                                       hardhat_url: str) -> None:
    daemon = h.start_daemon(stack)
    try:
        settled = h.wait_for(lambda: _settled_ticks(store), timeout_s=180, daemon=daemon,
                             what=f"{TICKS} ticked intervals with their reports confirmed, one priced",
                             diagnose=lambda: _state(store) + h.log_problems(stack))

        assert httpx.get(f"{stack.api}/healthz", timeout=5).json()["status"] == "ok"
        ready = httpx.get(f"{stack.api}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) >= {"database", "backend", "rpc", "tick"}
        metrics = httpx.get(f"{stack.api}/metrics", timeout=5).text
        assert 'oracle_job_runs_total{job="tick",outcome="ok"}' in metrics
        assert 'oracle_job_runs_total{job="submit",outcome="ok"}' in metrics
        assert "oracle_last_successful_tick_timestamp_seconds" in metrics

        code = h.stop(daemon, signal.SIGTERM, 90)  # finishes the running job, then exits
        assert code == 0, h.daemon_log(stack)
    finally:
        if daemon.poll() is None:
            h.stop(daemon, signal.SIGKILL, 10)

    assert "stopped cleanly" in h.daemon_log(stack, tail=10_000)
    h.cli_ok(stack, "audit", "verify")
    assert h.scalar(store, "SELECT count(*) FROM job_runs WHERE job = 'tick' AND outcome = 'ok'") > 0

    w3 = Web3(Web3.HTTPProvider(hardhat_url))
    feed = h.contract(w3, store, "EnergyPriceOracle")
    published = h.rows(store, """
        SELECT p.interval_start, p.price, p.report_id FROM price_rounds p
        JOIN reports r ON r.report_id = p.report_id WHERE r.status = 'confirmed'
        ORDER BY p.interval_start""")
    assert published, "no confirmed price report"
    for start, price, rid in published:
        round_id = round_number(start, INTERVAL_S)
        got_round, answer, _, updated_at, answered_in = feed.functions.getRoundData(round_id).call()
        assert (got_round, answered_in) == (round_id, round_id), rid
        assert answer == to_answer(price, FEED_DECIMALS), (rid, answer, price)
        assert updated_at > 0
    # every round on chain is a stored, published price round: nothing on chain the store lacks
    stored = {round_number(s, INTERVAL_S): p for s, p, _ in h.rows(
        store, "SELECT interval_start, price, report_id FROM price_rounds WHERE published")}
    events = h.answer_events(w3, store)
    on_chain = [e["args"]["roundId"] for e in events]
    assert len(on_chain) == len(set(on_chain)), on_chain
    for event in events:
        round_id = event["args"]["roundId"]
        assert round_id in stored, round_id
        assert event["args"]["current"] == to_answer(stored[round_id], FEED_DECIMALS)
    assert feed.functions.latestRoundData().call()[0] == max(on_chain)
    assert len(settled) >= TICKS

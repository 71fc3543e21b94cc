"""`kill -9` of `oracle run` at random moments (seeded), restarted each time, against PostgreSQL,
a hardhat node and the reference backend: afterwards every ticked interval's reports are on chain
exactly once, no stored row was lost, and the audit log verifies."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import daemon_harness as h
import httpx
import pytest
from conftest import free_port
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle.chain.encoding import to_answer
from oracle.chain.reports import round_number
from oracle.config import BackendSettings
from oracle.sources.client import replay_now
from oracle.store.engine import make_engine

pytestmark = [pytest.mark.postgres, pytest.mark.hardhat, pytest.mark.slow]

SEED = 20240601
KILLS = 20
STEP = timedelta(hours=1)  # scheduler.interval_s default
# a market hour every 12 s: the restarts leave a backlog of ticks that a daemon on a loaded
# 2-core machine (about 3 s a tick) must still work off within the catch-up wait; what is under
# test is what a kill leaves behind, not the tick's speed (benchmarks/tick.py measures that)
SPEED = 300
FEED_DECIMALS = 8
STAGE_REPORT = {"detect": "anomaly", "optimize": "optimization"}


@dataclass
class Snapshot:
    """What the store held when the daemon was killed; nothing of it may be gone afterwards."""

    readings: int = 0
    audit_seq: int = 0
    price_rounds: set[Any] = field(default_factory=set)

    @classmethod
    def take(cls, engine: Engine) -> Snapshot:
        return cls(h.scalar(engine, "SELECT count(*) FROM readings"),
                   h.scalar(engine, "SELECT coalesce(max(seq), 0) FROM audit_log"),
                   {r[0] for r in h.rows(engine, "SELECT interval_start FROM price_rounds")})

    def assert_kept_by(self, later: Snapshot, when: str) -> None:
        assert later.readings >= self.readings, f"{when}: readings {self.readings} -> {later.readings}"
        assert later.audit_seq >= self.audit_seq, f"{when}: audit log shrank"
        lost = self.price_rounds - later.price_rounds
        assert not lost, f"{when}: price rounds lost: {sorted(lost)}"


@pytest.fixture
def deployed(pg_schema: str, hardhat_url: str, tmp_path: Path
             ) -> Iterator[tuple[h.Stack, h.Backend, Engine, Web3]]:
    with h.deployed_stack(pg_schema, hardhat_url, tmp_path, api_port=free_port(),
                          backend_port=free_port(), speed=SPEED) as (stack, backend):
        engine = make_engine(pg_schema)
        try:
            yield stack, backend, engine, Web3(Web3.HTTPProvider(hardhat_url))
        finally:
            engine.dispose()


def _api_up(stack: h.Stack) -> bool:
    try:
        return httpx.get(f"{stack.api}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _kill_at_random(stack: h.Stack, engine: Engine, rng: random.Random) -> list[str]:
    """KILLS cycles of start, wait a random while, kill -9; checks no stored row is lost."""
    moments: list[str] = []
    before = Snapshot.take(engine)
    for n in range(KILLS):
        daemon = h.start_daemon(stack, n)
        if rng.random() < 0.25:  # during start-up: settings, store, chain resync
            anchor, delay = "start", rng.uniform(0.5, 4.0)
        else:  # while jobs run: tick stages, submit passes
            h.wait_for(lambda: _api_up(stack), timeout_s=60, daemon=daemon, every_s=0.1,
                       what=f"API of daemon {n}", diagnose=partial(h.daemon_log, stack, n))
            anchor, delay = "api up", rng.uniform(0.5, 6.0)
        time.sleep(delay)
        assert daemon.poll() is None, f"daemon {n} exited by itself:\n{h.daemon_log(stack, n)}"
        h.stop(daemon, signal.SIGKILL, 10)
        after = Snapshot.take(engine)
        before.assert_kept_by(after, f"kill {n} ({anchor} + {delay:.1f}s)")
        before = after
        moments.append(f"{anchor}+{delay:.1f}s: {_interrupted(engine)}")
    return moments


def _interrupted(engine: Engine) -> str:
    """What a kill left behind: a tick half done, transactions in flight (for the test's log)."""
    mark = _watermark(engine)
    half_done = h.scalar(engine, "SELECT count(*) FROM price_rounds WHERE interval_start > :m",
                         m=mark) if mark is not None else 0
    in_flight = h.scalar(engine, "SELECT count(*) FROM transactions "
                                 "WHERE status IN ('signed', 'broadcast', 'mined')")
    return f"{'a tick half done' if half_done else 'ticks complete'}, {in_flight} tx in flight"


def _watermark(engine: Engine) -> datetime | None:
    mark = h.scalar(engine, "SELECT watermark FROM ingest_cursors WHERE stream = 'daemon.tick'")
    return mark.astimezone(UTC) if mark is not None else None


def _caught_up(engine: Engine, backend_url: str) -> bool:
    mark = _watermark(engine)
    return mark is not None and mark >= replay_now(BackendSettings(url=backend_url, timeout_s=5)) - 2 * STEP


def _state(engine: Engine) -> str:
    return (f"watermark {_watermark(engine)}; reports "
            f"{h.rows(engine, 'SELECT status, count(*) FROM reports GROUP BY status')}\n")


def test_kill_minus_9_at_random_moments_loses_nothing_and_lands_each_report_once(
        deployed: tuple[h.Stack, h.Backend, Engine, Web3]) -> None:
    stack, backend, engine, w3 = deployed
    sender = Web3.to_checksum_address(h.cli_ok(stack, "keys", "address").strip())
    nonce_after_deploy = w3.eth.get_transaction_count(sender)
    rng = random.Random(SEED)
    t0 = time.monotonic()
    moments = _kill_at_random(stack, engine, rng)
    t_kills = time.monotonic() - t0
    before_drain = Snapshot.take(engine)

    last = h.start_daemon(stack, KILLS)
    h.wait_daemon_up(stack, last)  # a SIGTERM before start-up would be the default action
    try:
        diagnose = lambda: _state(engine) + h.log_problems(stack, KILLS)  # noqa: E731
        h.wait_for(lambda: _caught_up(engine, backend.url), timeout_s=150, daemon=last,
                   what="the daemon to catch up with the replay clock", diagnose=diagnose)
        t_catch_up = time.monotonic() - t0 - t_kills
        # with the backend gone no new interval is ticked: once a tick has failed for it, no
        # tick is still in flight and the outbox can drain for good
        gone = datetime.now(UTC)
        h.stop(backend.process, signal.SIGTERM, 20)
        h.wait_for(lambda: h.tick_retried_since(engine, gone), timeout_s=60, daemon=last,
                   what="a tick to find the backend gone", diagnose=diagnose)
        h.wait_for(lambda: not h.unsettled_reports(engine), timeout_s=90, daemon=last,
                   what="the outbox to drain", diagnose=diagnose)
        assert h.stop(last, signal.SIGTERM, 60) == 0, h.daemon_log(stack, KILLS)
    finally:
        if last.poll() is None:
            h.stop(last, signal.SIGKILL, 10)
    before_drain.assert_kept_by(Snapshot.take(engine), "after the final run")
    h.cli_ok(stack, "audit", "verify")

    ticked = _assert_ticked_without_gap(engine)
    reports = _assert_every_report_queued(engine, ticked)
    _assert_each_report_confirmed_once(engine, reports)
    # every transaction the key got mined since the deployment is one confirmed report
    assert w3.eth.get_transaction_count(sender) - nonce_after_deploy == len(reports)
    _assert_on_chain_once(w3, engine, reports)
    print("\n".join(f"kill {n}: {m}" for n, m in enumerate(moments)))
    print(f"{KILLS} kills in {t_kills:.0f}s; caught up in "
          f"{t_catch_up:.0f}s, drained and stopped by {time.monotonic() - t0:.0f}s; "
          f"{len(ticked)} intervals ticked, {len(reports)} reports on chain")


def _assert_ticked_without_gap(engine: Engine) -> list[datetime]:
    """Every interval from the first completed tick to the watermark has its price round."""
    mark = _watermark(engine)
    assert mark is not None, "no tick completed"
    refs = [r[0] for r in h.rows(engine, "SELECT ref FROM audit_log WHERE kind = 'tick'")]
    first = min(datetime.strptime(ref, "tick:%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC) for ref in refs)
    stored = {r[0].astimezone(UTC) for r in h.rows(engine, "SELECT interval_start FROM price_rounds")}
    ticked = [first + i * STEP for i in range(int((mark - first) / STEP) + 1)]
    missing = [t for t in ticked if t not in stored]
    assert not missing, f"ticked intervals without a price round: {missing}"
    assert len(ticked) >= 3
    return ticked


def _assert_every_report_queued(engine: Engine, ticked: list[datetime]) -> dict[str, Any]:
    """Each ticked interval queued its price report (when published) and its anomaly and
    optimization reports, unless that stage was skipped and audited."""
    reports = {r[0]: r for r in h.rows(
        engine, "SELECT report_id, kind, interval_start, status, error, payload FROM reports")}
    skipped = {r[0] for r in h.rows(engine, "SELECT ref FROM audit_log WHERE kind = 'stage.skipped'")}
    published = {r[0].astimezone(UTC): r[1] for r in h.rows(
        engine, "SELECT interval_start, report_id FROM price_rounds WHERE published")}
    lost = {start: rid for start, rid in published.items() if rid not in reports}
    assert not lost, f"price rounds decided 'publish' but never queued: {lost}"
    for start in ticked:
        key = f"{start:%Y-%m-%dT%H:%MZ}"
        for stage, kind in STAGE_REPORT.items():
            rid = f"{kind}:zone-1:{key}"
            assert rid in reports or f"{stage}:{key}" in skipped, f"{rid}: neither queued nor skipped"
    failed = {rid: r[4] for rid, r in reports.items() if r[3] != "confirmed"}
    assert not failed, f"reports not confirmed: {failed}"
    return reports


def _assert_each_report_confirmed_once(engine: Engine, reports: dict[str, Any]) -> None:
    confirmed = Counter(r[0] for r in h.rows(
        engine, "SELECT report_id FROM transactions WHERE status = 'confirmed'"))
    twice = {rid: n for rid, n in confirmed.items() if n != 1}
    assert not twice, f"reports with more than one confirmed transaction: {twice}"
    assert set(confirmed) == set(reports)


def _assert_on_chain_once(w3: Web3, engine: Engine, reports: dict[str, Any]) -> None:
    """Exactly one AnswerUpdated per published round, one batch and one commitment per report."""
    by_kind: dict[str, dict[int, Any]] = {"price": {}, "anomaly": {}, "optimization": {}}
    for _, kind, start, _, _, payload in reports.values():
        body = payload if isinstance(payload, dict) else json.loads(payload)
        by_kind[kind][_key(kind, start)] = body["report"]
    feed = h.contract(w3, engine, "EnergyPriceOracle")
    answers = Counter(e["args"]["roundId"] for e in feed.events.AnswerUpdated().get_logs(from_block=0))
    assert set(answers) == set(by_kind["price"]), "rounds on chain differ from the price reports"
    assert all(n == 1 for n in answers.values()), answers
    prices = {round_number(r[0], int(STEP.total_seconds())): r[1] for r in h.rows(
        engine, "SELECT interval_start, price FROM price_rounds WHERE published")}
    for round_id, report in by_kind["price"].items():
        answer = feed.functions.getRoundData(round_id).call()[1]
        assert answer == to_answer(report["price"], FEED_DECIMALS), round_id
        assert answer == to_answer(prices[round_id], FEED_DECIMALS), f"stored price {round_id}"
    registry = h.contract(w3, engine, "AnomalyRegistry")
    batches = Counter(e["args"]["batchId"]
                      for e in registry.events.BatchRecorded().get_logs(from_block=0))
    assert set(batches) == set(by_kind["anomaly"]) and all(n == 1 for n in batches.values())
    for batch_id, report in by_kind["anomaly"].items():
        root, count, *_ = registry.functions.getBatch(batch_id).call()
        assert (root.hex(), count) == (report["root"], report["count"]), batch_id
    stored = Counter(r[0] for r in h.rows(engine, "SELECT report_id FROM anomalies"))
    for rid, (_, kind, start, *_) in reports.items():
        if kind == "anomaly":  # the rows kept for a batch are the ones on chain, re-runs or not
            assert stored.get(rid, 0) == by_kind[kind][_key(kind, start)]["count"], rid
    grid = h.contract(w3, engine, "GridOptimizationRegistry")
    commits = Counter(e["args"]["intervalStart"]
                      for e in grid.events.ScheduleCommitted().get_logs(from_block=0))
    assert set(commits) == set(by_kind["optimization"]) and all(n == 1 for n in commits.values())
    for interval, report in by_kind["optimization"].items():
        schedule_hash = grid.functions.getCommitment(interval).call()[0]
        assert schedule_hash.hex() == report["schedule_hash"], interval
    for start, stored_hash in h.rows(engine, "SELECT interval_start, schedule_hash "
                                             "FROM dispatch_schedules"):
        key = _key("optimization", start)
        if key in by_kind["optimization"]:
            assert stored_hash == by_kind["optimization"][key]["schedule_hash"], start


def _key(kind: str, start: datetime) -> int:
    """Where a report lives on chain: round / batch id, or the interval's Unix time."""
    if kind == "optimization":
        return int(start.timestamp())
    return round_number(start, int(STEP.total_seconds()))

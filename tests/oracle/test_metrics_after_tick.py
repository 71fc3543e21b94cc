"""/metrics after one tick on real parts (SQLite, in-process py-evm with the contracts, the
reference backend on loopback): the published price, its round and time, gas, the chain's
balance of the key and the process collector all have samples."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from oracle import jobs
from oracle.api.probes import create_api
from oracle.app import Application, build
from oracle.chain.reports import round_number
from oracle.cli.demo import WARMUP, SimClock, demo_settings
from oracle.jobs.ingestion import ingest_once
from oracle.scheduler import JobRecorder, JobSpec
from oracle.store import migrate
from oracle.store.engine import make_engine

pytestmark = pytest.mark.slow

# Every gauge or counter whose value exists from the first tick on (README: "HTTP ... /metrics").
EXPECTED = ("oracle_job_duration_seconds", "oracle_last_successful_tick_timestamp_seconds",
            "oracle_last_price_round", "oracle_last_price", "oracle_last_price_timestamp_seconds",
            "oracle_pending_transactions", "oracle_gas_used", "oracle_signer_balance_wei",
            "oracle_signer_balance_low", "oracle_stuck_transactions",
            "process_cpu_seconds", "process_resident_memory_bytes")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Application, SimClock]]:
    from oracle.simulator.backend import create_app, serve_in_thread
    from oracle.simulator.replay import build_replay

    replay = build_replay(meters=12, weeks=4, seed=3)
    clock = SimClock(replay.start + WARMUP + timedelta(hours=10))  # solar surplus: a price
    with serve_in_thread(create_app(replay, clock)) as url:
        settings = demo_settings(None, tmp_path, None, None, url)
        migrate.upgrade(make_engine(settings.database_url))
        app = build(settings, clock=clock)
        ingest_once(app.backend, app.weather, app.engine, since=replay.start,
                    until=clock.now_value, now=clock.now_value, rules=app.plausibility)
        yield app, clock
        app.close()


def _samples(app: Application) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = TestClient(create_api(app.metrics, app.readiness)).get("/metrics").text
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(family.name, []).append((sample.labels, sample.value))
    return found


def test_every_listed_metric_has_a_sample_after_one_tick(world) -> None:  # type: ignore[no-untyped-def]
    app, _ = world
    record = JobRecorder(app.engine, app.metrics)  # what the daemon runs each job through
    done = record(JobSpec("tick", 60, lambda: jobs.catch_up(app.tick_parts())))
    assert done and done[0].stages["price"] == "ok"
    for _ in range(6):  # broadcast, then blocks on top until confirmed (py-evm mines per tx)
        record(JobSpec("submit", 60, lambda: jobs.submit(app.submit_parts())))
    samples = _samples(app)
    missing = [name for name in EXPECTED if name not in samples]
    assert not missing, missing
    assert app.account is not None and app.w3 is not None
    balance = samples["oracle_signer_balance_wei"][0][1]
    assert balance == pytest.approx(app.w3.eth.get_balance(app.account.address), rel=1e-12)
    assert balance > 10**18
    gas = {labels["kind"]: v for labels, v in samples["oracle_gas_used"]}
    assert gas.get("price", 0) > 21_000
    price = dict((labels["zone"], v) for labels, v in samples["oracle_last_price"])
    assert price, samples["oracle_last_price"]
    expected = round_number(done[0].interval_start, app.settings.scheduler.interval_s)
    assert [v for _, v in samples["oracle_last_price_round"]] == [expected]

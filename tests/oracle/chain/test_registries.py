"""AnomalyRegistry and GridOptimizationRegistry on py-evm: batches verifiable from the anomaly's
fields, flags only with evidence, schedules checked against their hash, figures in range."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from chainkit import Batch, anomaly, attempt, next_time, outcome, transact, travel
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from oracle.chain.encoding import FLAGGING_TYPES, LEAF_TYPEHASH, anomaly_fields, meter_key, schedule_bytes
from oracle.chain.reports import anomaly_call, price_call, round_number, schedule_call


def _batch(w3: Web3, n: int, batch_id: int | None = None) -> Batch:
    now = next_time(w3)
    return Batch(batch_id or now // 3600, [anomaly(f"m{i}", now - 600 - i) for i in range(n)])


def test_every_anomaly_of_a_batch_verifies_from_its_fields(w3: Web3, registry: Contract,
                                                           oracle_key: LocalAccount) -> None:
    batch = _batch(w3, 5)
    transact(w3, batch.record(registry, next_time(w3)), oracle_key.address)
    tree = batch.tree
    for i, a in enumerate(batch.anomalies):
        assert registry.functions.anomalyLeaf(batch.batch_id, a.as_struct()).call() == a.leaf(batch.batch_id)
        assert registry.functions.verifyAnomaly(batch.batch_id, a.as_struct(), tree.proof(i)).call() is True
    assert registry.functions.LEAF_TYPEHASH().call() == LEAF_TYPEHASH
    root, count, severity, _, recorded = registry.functions.getBatch(batch.batch_id).call()
    assert (root, count, severity) == (tree.root, 5, 3) and recorded > 0
    assert registry.functions.latestBatchId().call() == batch.batch_id


def test_a_single_anomaly_batch_verifies_with_an_empty_proof(w3: Web3, registry: Contract,
                                                              oracle_key: LocalAccount) -> None:
    batch = _batch(w3, 1)
    transact(w3, batch.record(registry, next_time(w3)), oracle_key.address)
    assert registry.functions.verifyAnomaly(batch.batch_id, batch.anomalies[0].as_struct(), []).call()


def test_flag_needs_a_flagging_anomaly_of_that_meter_in_the_batch(w3: Web3, registry: Contract,
                                                                  oracle_key: LocalAccount) -> None:
    now = next_time(w3)
    batch = Batch(now // 3600, [anomaly("quiet", now - 900), anomaly("thief", now - 800, "meter_tampering", 4)])
    receipt = transact(w3, batch.record(registry, now, [batch.flag(1)]), oracle_key.address)
    assert registry.functions.isFlagged(meter_key("thief")).call() is True
    assert registry.functions.flaggedIn(meter_key("thief")).call() == batch.batch_id
    assert registry.functions.isFlagged(meter_key("quiet")).call() is False
    flagged = registry.events.MeterFlagged().process_receipt(receipt, errors=DISCARD)
    assert [e["args"]["meterId"] for e in flagged] == [meter_key("thief")]
    later = travel(w3, 3600)  # a later batch clears it
    transact(w3, registry.functions.recordBatch(batch.batch_id + 1, b"\x00" * 32, 0, 0, later, [],
                                                [meter_key("thief")]), oracle_key.address)
    assert registry.functions.isFlagged(meter_key("thief")).call() is False


def test_flagging_types_are_the_contracts(w3: Web3, registry: Contract, oracle_key: LocalAccount) -> None:
    """The daemon's flagging types are exactly those the registry accepts as evidence."""
    now = next_time(w3)
    kinds = [*sorted(FLAGGING_TYPES), "consumption_spike", "fraud", "tampering"]
    batch = Batch(now // 3600, [anomaly(f"m{i}", now - 60, kind) for i, kind in enumerate(kinds)])
    accepted = {kind for i, kind in enumerate(kinds)
                if outcome(batch.record(registry, now, [batch.flag(i)]), oracle_key.address) is None}
    assert accepted == FLAGGING_TYPES


def test_anomaly_call_from_the_daemon_lands_and_flags_with_evidence(w3: Web3, registry: Contract,
                                                                    oracle_key: LocalAccount) -> None:
    now = next_time(w3)
    ts = pd.Timestamp(now - 1800, unit="s", tz="UTC")
    found = pd.DataFrame({"meter_id": ["a", "b", "b", "c"], "ts": [ts] * 4,
                          "type": ["consumption_spike", "meter_tampering", "trading_fraud", "zero_reading"],
                          "severity": ["low", "high", "critical", "medium"], "score": [1.5, 3.2, 9.9, 0.4]})
    batch_id = int(time.time()) // 3600 - 1  # anomaly_call's detection time is the wall clock
    call = anomaly_call(batch_id, found)
    assert call.payload["flagged"] == ["b"] and call.payload["count"] == 4
    transact(w3, getattr(registry.functions, call.fn_name)(*call.args), oracle_key.address)
    assert registry.functions.isFlagged(meter_key("b")).call() is True
    assert registry.functions.getBatch(batch_id).call()[2] == 4  # critical
    evidence = call.args[5][0][0]  # the most severe flagging anomaly of "b"
    assert evidence == anomaly_fields("b", now - 1800, "trading_fraud", "critical", 9.9).as_struct()
    empty = anomaly_call(batch_id + 1, found.iloc[:0])
    assert empty.args[1:4] == [b"\x00" * 32, 0, 0] and empty.args[5] == []


def test_anomaly_batch_gas_does_not_grow_with_the_batch(w3: Web3, registry: Contract,
                                                        oracle_key: LocalAccount) -> None:
    gas = []
    for offset, size in enumerate((1, 1, 1000)):  # the first batch warms the slots
        batch = _batch(w3, size, next_time(w3) // 3600 - 10 + offset)
        gas.append(transact(w3, batch.record(registry, next_time(w3)), oracle_key.address)["gasUsed"])
    assert abs(gas[2] - gas[1]) <= 64  # only calldata bytes of the count differ


def test_schedule_commitment_checks_the_hash_and_keeps_the_schedule_in_the_log(
        w3: Web3, grid: Contract, oracle_key: LocalAccount) -> None:
    schedule = schedule_bytes({"flows": [[1.5, -0.5]], "soc": [0.4, 0.6]})
    start = next_time(w3) // 3600 * 3600
    receipt = transact(w3, grid.functions.commitSchedule(start, Web3.keccak(schedule), -12_345, 4_200, -1_000,
                                                         5_000, schedule), oracle_key.address)
    event = grid.events.ScheduleCommitted().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert event["schedule"] == schedule and event["renewableShareBps"] == 4_200
    assert grid.functions.getCommitment(start).call()[:5] == [Web3.keccak(schedule), -12_345, 4_200, -1_000,
                                                              5_000]
    assert grid.functions.latestInterval().call() == start
    assert outcome(grid.functions.commitSchedule(start + 3600, b"\x01" * 32, 0, 0, 0, 0, schedule),
                   oracle_key.address) == "GOR: schedule does not match its hash"


def test_schedule_call_from_the_daemon_lands_and_refuses_figures_out_of_range(
        w3: Web3, grid: Contract, oracle_key: LocalAccount) -> None:
    start = pd.Timestamp(next_time(w3) // 3600 * 3600, unit="s", tz="UTC").to_pydatetime()
    summary = {"total_cost": -288.99, "renewable_share": 0.42, "peak_reduction_pct": -250.0, "carbon_kg": -1e-9}
    call = schedule_call(start, {"x": [1, 2]}, summary)
    assert call.args[2:6] == [-288_990, 4_200, -10_000, 0]  # peak clamped to -100%, solver noise to 0
    assert attempt(w3, getattr(grid.functions, call.fn_name)(*call.args), oracle_key.address) is None
    for key, value in (("total_cost", 2e12), ("renewable_share", 1.01), ("carbon_kg", 2e12),
                       ("total_cost", float("nan")), ("peak_reduction_pct", float("inf"))):
        with pytest.raises(Exception, match=key):
            schedule_call(start, {"x": 1}, {**summary, key: value})


def test_the_daemon_catching_up_after_days_down_lands_every_interval(w3: Web3, feed: Contract, registry: Contract,
                                                                       grid: Contract,
                                                                       oracle_key: LocalAccount) -> None:
    """The daemon's own calls for intervals from three days ago up to now, sent in order after an
    outage with today's observation and detection times, all land within the id bounds."""
    me = oracle_key.address
    now_hour = min(next_time(w3), int(time.time())) // 3600 * 3600
    starts = [now_hour - h * 3600 for h in (72, 71, 48, 24, 1, 0)]
    ts = pd.Timestamp(now_hour - 7200, unit="s", tz="UTC")
    found = pd.DataFrame({"meter_id": ["a"], "ts": [ts], "type": ["meter_tampering"], "severity": ["high"],
                          "score": [2.0]})
    summary = {"total_cost": 10.0, "renewable_share": 0.5, "peak_reduction_pct": 5.0, "carbon_kg": 3.0}
    for start in starts:
        interval = datetime.fromtimestamp(start, UTC)
        rid = round_number(interval, 3600)
        for call, contract in ((price_call("zone-1", rid, 0.2, [0.2, 0.21], 8), feed),
                               (anomaly_call(rid, found), registry),
                               (schedule_call(interval, {"start": start}, summary), grid)):
            transact(w3, getattr(contract.functions, call.fn_name)(*call.args), me)
    assert feed.functions.latestRound().call() == registry.functions.latestBatchId().call() == now_hour // 3600
    assert grid.functions.latestInterval().call() == now_hour
    assert feed.functions.getRoundData(starts[0] // 3600).call()[1] == 20_000_000

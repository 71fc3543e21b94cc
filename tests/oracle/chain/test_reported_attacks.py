"""Every attack reported in issue 15 against the contracts, each now a revert with its reason,
and the valid report that still lands afterwards. (The settlement cases are in
test_settlement.py, the keystore cases in test_keystore.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from chainkit import (
    Batch,
    anomaly,
    feed_config,
    next_time,
    outcome,
    report,
    signed,
    transact,
    travel,
    unlocked,
)
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import send
from oracle.errors import TxReverted

ZERO = b"\x00" * 32
HORIZON = 86_400


def _constructor_reverts(w3: Web3, key: LocalAccount, name: str, *args: Any) -> str:
    artifact = load_artifact(name)
    with pytest.raises(TxReverted) as info:
        send(w3, key, w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args))
    return str(info.value.reason)


# ------------------------------------------------------------------ quorum 0 before setSigners

@pytest.mark.parametrize(("signers", "quorum", "transmitters", "reason"), [
    (1, 0, 1, "EPO: quorum out of range"),
    (3, 4, 1, "EPO: quorum out of range"),
    (0, 0, 1, "EPO: 1 to 31 signers"),
    (32, 1, 1, "EPO: 1 to 31 signers"),
    (1, 1, 0, "EPO: 1 to 31 transmitters"),
])
def test_no_feed_deploys_without_a_quorum_and_a_transmitter(w3: Web3, oracle_key: LocalAccount, signers: int,
                                                            quorum: int, transmitters: int, reason: str) -> None:
    keys = [Account.create().address for _ in range(signers)]
    tx = [oracle_key.address] * min(transmitters, 1)
    assert _constructor_reverts(w3, oracle_key, "EnergyPriceOracle", oracle_key.address, feed_config(), keys,
                                quorum, tx) == reason


def test_a_deployed_feed_has_its_quorum_and_no_unsigned_report_lands(w3: Web3, feed: Contract,
                                                                     oracle_key: LocalAccount) -> None:
    assert feed.functions.quorum().call() == 1
    assert feed.functions.signers().call() == [oracle_key.address]
    assert feed.functions.transmitters().call() == [oracle_key.address]
    (outsider,) = unlocked(w3)
    transact(w3, feed.functions.setTransmitters([oracle_key.address, outsider.address]), oracle_key.address)
    rep = report(1, next_time(w3))
    assert outcome(feed.functions.transmitSigned(*rep.args(), b""), outsider.address) == "EPO: too few signatures"
    assert outcome(feed.functions.transmit(*rep.args()), outsider.address) == "EPO: transmitter is not a signer"
    assert outcome(feed.functions.setSigners([oracle_key.address], 0), oracle_key.address) == \
        "EPO: quorum out of range"
    assert outcome(signed(w3, feed, rep, [oracle_key]), outsider.address) is None  # one real signature: lands


@pytest.mark.parametrize(("name", "args", "reason"), [
    ("AnomalyRegistry", lambda me: [me, [], 3600], "AR: no reporter"),
    ("AnomalyRegistry", lambda me: [me, [me], 0], "AR: zero batch interval"),
    ("GridOptimizationRegistry", lambda me: [me, [], HORIZON], "GOR: no reporter"),
])
def test_no_registry_deploys_without_a_reporter(w3: Web3, oracle_key: LocalAccount, name: str, args: Any,
                                                reason: str) -> None:
    assert _constructor_reverts(w3, oracle_key, name, *args(oracle_key.address)) == reason


# ------------------------------------------------------------------ ids that would brick

@pytest.mark.parametrize("round_id", [2**32 - 1, 2**32, 2**32 + 7, 2**80 - 1, "next interval"])
def test_a_huge_round_id_is_refused_and_the_feed_goes_on(w3: Web3, feed: Contract, oracle_key: LocalAccount,
                                                         round_id: Any) -> None:
    now = next_time(w3)
    rid = now // 3600 + 1 if round_id == "next interval" else round_id
    assert outcome(feed.functions.transmit(*report(rid, now).args()), oracle_key.address) == \
        "EPO: round ahead of its observation"
    transact(w3, feed.functions.transmit(*report(now // 3600, now).args()), oracle_key.address)
    later = travel(w3, 3600)
    transact(w3, feed.functions.transmit(*report(later // 3600, later).args()), oracle_key.address)
    assert feed.functions.latestRound().call() == later // 3600


def test_the_highest_reachable_round_only_delays_the_next_interval(w3: Web3, feed: Contract,
                                                                   oracle_key: LocalAccount) -> None:
    """With the observation 60 s ahead (the most allowed), a report reaches one interval further
    at most; the following interval's report lands once its time comes."""
    now = next_time(w3)
    ahead = now + 60
    transact(w3, feed.functions.transmit(*report(ahead // 3600, ahead).args()), oracle_key.address)
    later = travel(w3, 3600 + 61)
    transact(w3, feed.functions.transmit(*report(later // 3600, later).args()), oracle_key.address)
    assert feed.functions.latestRound().call() == later // 3600 > ahead // 3600


@pytest.mark.parametrize("batch_id", [2**64 - 1, 2**32, "next interval"])
def test_a_huge_batch_id_is_refused_and_the_registry_goes_on(w3: Web3, registry: Contract,
                                                             oracle_key: LocalAccount, batch_id: Any) -> None:
    now = next_time(w3)
    bid = now // 3600 + 1 if batch_id == "next interval" else batch_id
    batch = Batch(bid, [anomaly("m1", now - 10)])
    assert outcome(batch.record(registry, now), oracle_key.address) == "AR: batch ahead of its detection"
    transact(w3, Batch(now // 3600, batch.anomalies).record(registry, now), oracle_key.address)
    later = travel(w3, 3600)
    transact(w3, Batch(later // 3600, batch.anomalies).record(registry, later), oracle_key.address)
    assert registry.functions.latestBatchId().call() == later // 3600


@pytest.mark.parametrize("start", [2**64 - 1, "horizon + 1"])
def test_a_far_interval_start_is_refused_and_the_registry_goes_on(w3: Web3, grid: Contract,
                                                                  oracle_key: LocalAccount, start: Any) -> None:
    now = next_time(w3)
    far = now + HORIZON + 1 if start == "horizon + 1" else start
    assert outcome(_commit(grid, far), oracle_key.address) == "GOR: interval beyond the planning horizon"
    transact(w3, _commit(grid, now + HORIZON), oracle_key.address)  # the furthest allowed
    assert outcome(_commit(grid, now + HORIZON + 3600), oracle_key.address) == \
        "GOR: interval beyond the planning horizon"
    travel(w3, 3600)  # an hour later the next interval is within the horizon again
    transact(w3, _commit(grid, now + HORIZON + 3600), oracle_key.address)


def _commit(grid: Contract, start: int, cost: int = 1000, renewable: int = 5000, peak: int = 100,
            carbon: int = 10) -> Any:
    body = b'{"x":1}'
    return grid.functions.commitSchedule(start, Web3.keccak(body), cost, renewable, peak, carbon, body)


# ------------------------------------------------------------------ raw leaves that "verified"

def test_only_a_leaf_built_from_real_fields_verifies(w3: Web3, registry: Contract,
                                                     oracle_key: LocalAccount) -> None:
    now = next_time(w3)
    batch = Batch(now // 3600, [anomaly(f"m{i}", now - 100 - i) for i in range(4)])
    transact(w3, batch.record(registry, now), oracle_key.address)
    tree, real = batch.tree, batch.anomalies[0].as_struct()

    def verify(fields: Any, proof: list[bytes], batch_id: int = batch.batch_id) -> str | None:
        return outcome(registry.functions.verifyAnomaly(batch_id, fields, proof), oracle_key.address)

    assert verify(real, tree.proof(0)) is None
    assert verify(real, tree.proof(0)[1:]) == "AR: bad Merkle proof"  # as if it were the inner node
    assert verify(real, []) == "AR: bad Merkle proof"  # as if it were the root
    assert verify(batch.anomalies[1].as_struct(), tree.proof(0)) == "AR: bad Merkle proof"
    assert verify((real[0], real[1] + 1, *real[2:]), tree.proof(0)) == "AR: bad Merkle proof"
    empty = batch.batch_id + 1
    later = travel(w3, 3600)
    transact(w3, registry.functions.recordBatch(empty, ZERO, 0, 0, later, [], []), oracle_key.address)
    assert verify((ZERO, 1, ZERO, 1, 0), [], empty) == "AR: empty batch"
    assert verify(real, tree.proof(0), empty) == "AR: empty batch"
    assert verify(real, tree.proof(0), empty + 1) == "AR: unknown batch"


# ------------------------------------------------------------------ batches without evidence

@pytest.mark.parametrize(("case", "reason"), [
    ("empty batch flags", "AR: an empty batch flags nothing"),
    ("severity 255", "AR: severity out of range"),
    ("severity 0 with anomalies", "AR: severity out of range"),
    ("empty batch with severity", "AR: severity of an empty batch"),
    ("detected at 0", "AR: zero detection time"),
    ("detected 61 s ahead", "AR: detection in the future"),
    ("root without count", "AR: root does not match count"),
    ("count without root", "AR: root does not match count"),
    ("flag for another meter", "AR: flag without evidence"),
    ("flag by a spike", "AR: anomaly type does not flag"),
    ("flag above the batch severity", "AR: anomaly severity out of range"),
    ("flag after the detection", "AR: anomaly time out of range"),
])
def test_batches_without_evidence_or_in_range_figures_are_refused(w3: Web3, registry: Contract,
                                                                  oracle_key: LocalAccount, case: str,
                                                                  reason: str) -> None:
    now = next_time(w3)
    bid = now // 3600
    fraud = Batch(bid, [anomaly("thief", now - 50, "trading_fraud", 4), anomaly("m2", now - 40, "spike", 2)])
    root, (fields, proof) = fraud.tree.root, fraud.flag(0)
    other = ((Web3.keccak(text="innocent"), *fields[1:]), proof)
    low = Batch(bid, [anomaly("thief", now - 50, "trading_fraud", 2)])
    late = Batch(bid, [anomaly("thief", now + 30, "trading_fraud", 4)])
    rec = registry.functions.recordBatch
    call = {"empty batch flags": rec(bid, ZERO, 0, 0, now, [fraud.flag(0)], []),
            "severity 255": rec(bid, root, 2, 255, now, [], []),
            "severity 0 with anomalies": rec(bid, root, 2, 0, now, [], []),
            "empty batch with severity": rec(bid, ZERO, 0, 3, now, [], []),
            "detected at 0": rec(bid, root, 2, 4, 0, [], []),
            "detected 61 s ahead": rec(bid, root, 2, 4, now + 61, [], []),
            "root without count": rec(bid, root, 0, 0, now, [], []),
            "count without root": rec(bid, ZERO, 2, 4, now, [], []),
            "flag for another meter": rec(bid, root, 2, 4, now, [other], []),
            "flag by a spike": rec(bid, root, 2, 4, now, [fraud.flag(1)], []),
            "flag above the batch severity": rec(bid, low.tree.root, 1, 2, now, [fraud.flag(0)], []),
            "flag after the detection": late.record(registry, now, [late.flag(0)])}[case]
    assert outcome(call, oracle_key.address) == reason
    assert registry.functions.isFlagged(Web3.keccak(text="thief")).call() is False


@pytest.mark.parametrize(("figures", "reason"), [
    ({"cost": -2**95}, "GOR: cost out of range"),
    ({"cost": 2**95 - 1}, "GOR: cost out of range"),
    ({"cost": 10**15 + 1}, "GOR: cost out of range"),
    ({"peak": -32768}, "GOR: peak reduction out of range"),
    ({"peak": 10_001}, "GOR: peak reduction out of range"),
    ({"carbon": 2**64 - 1}, "GOR: carbon out of range"),
    ({"renewable": 10_001}, "GOR: renewable share above 100%"),
])
def test_unbounded_schedule_figures_are_refused(w3: Web3, grid: Contract, oracle_key: LocalAccount,
                                                figures: dict[str, int], reason: str) -> None:
    start = next_time(w3)
    assert outcome(_commit(grid, start, **figures), oracle_key.address) == reason
    extremes = {"cost": -10**15, "peak": -10_000, "carbon": 10**15, "renewable": 10_000}
    transact(w3, _commit(grid, start, **extremes), oracle_key.address)  # the bounds themselves land


# ------------------------------------------------------------------ startedAt after updatedAt

def test_an_observation_ahead_of_the_block_is_recorded_at_the_block_time(w3: Web3, feed: Contract,
                                                                         oracle_key: LocalAccount) -> None:
    now = next_time(w3)
    receipt = transact(w3, feed.functions.transmit(*report(now // 3600, now + 60).args()), oracle_key.address)
    block_time = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    _, _, started, updated, _ = feed.functions.latestRoundData().call()
    assert started == updated == block_time
    assert outcome(feed.functions.latestRoundDataNoOlderThan(0), oracle_key.address) == "EPO: stale price"
    later = travel(w3, 3600)
    assert outcome(feed.functions.transmit(*report(later // 3600, later + 61).args()), oracle_key.address) == \
        "EPO: observation in the future"

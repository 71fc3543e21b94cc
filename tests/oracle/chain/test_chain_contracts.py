"""The contracts on py-evm: Chainlink-compatible reads, every attack reverting with its reason,
Merkle batches, schedule commitments, and a consumer contract using the data."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import REVERT_ERRORS, bind, revert_reason, send
from oracle.chain.encoding import (
    PriceReport,
    anomaly_leaf,
    feed_id,
    meter_key,
    schedule_bytes,
    sign_report,
    signature_blob,
    to_answer,
)
from oracle.chain.merkle import MerkleTree
from oracle.chain.provider import fund_from_dev_account
from oracle.errors import TxReverted


@pytest.fixture
def feed(w3: Web3, deployed: dict[str, str]) -> Contract:
    return bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])


def _now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def _report(w3: Web3, round_id: int, price: float = 0.12, age: int = 0) -> PriceReport:
    return PriceReport(feed_id("zone-1"), round_id, to_answer(price, 8), _now(w3) - age,
                       b"\x22" * 32)


def _reverts(w3: Web3, account: LocalAccount, call: Any) -> str:
    with pytest.raises(TxReverted) as info:
        send(w3, account, call)
    assert info.value.reason
    return str(info.value.reason)


def _funded(w3: Web3) -> LocalAccount:
    account = Account.create()
    fund_from_dev_account(w3, account.address, 10**19)
    return account


def test_feed_reads_like_a_chainlink_aggregator(w3: Web3, feed: Contract,
                                                oracle_key: LocalAccount) -> None:
    assert feed.functions.decimals().call() == 8
    assert feed.functions.version().call() == 4
    assert feed.functions.description().call() == "SolChain zone-1 energy price"
    report = _report(w3, 7, price=0.1234)
    receipt = send(w3, oracle_key, feed.functions.transmit(*report.args()))
    round_id, answer, started, updated, answered = feed.functions.latestRoundData().call()
    assert (round_id, answer, started, answered) == (7, 12_340_000, report.observed_at, 7)
    assert updated == w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert feed.functions.getRoundData(7).call()[1] == 12_340_000
    events = feed.events.AnswerUpdated().process_receipt(receipt, errors=DISCARD)
    assert events[0]["args"]["current"] == 12_340_000 and events[0]["args"]["roundId"] == 7
    assert feed.events.NewRound().process_receipt(receipt, errors=DISCARD)[0]["args"]["startedBy"] == \
        oracle_key.address
    with pytest.raises(REVERT_ERRORS) as info:
        feed.functions.getRoundData(6).call()
    assert revert_reason(info.value) == "No data present"


def test_interface_matches_aggregator_v3_exactly() -> None:
    abi = {f["name"]: f for f in load_artifact("EnergyPriceOracle").abi if f["type"] == "function"}
    outputs = [o["type"] for o in abi["latestRoundData"]["outputs"]]
    assert outputs == ["uint80", "int256", "uint256", "uint256", "uint80"]
    assert [i["type"] for i in abi["getRoundData"]["inputs"]] == ["uint80"]
    assert abi["decimals"]["outputs"][0]["type"] == "uint8"


@pytest.mark.parametrize(("name", "mutate", "reason"), [
    ("older round", lambda w3: _report(w3, 4), "EPO: round not newer"),
    ("older observation", lambda w3: _report(w3, 6, age=10), "EPO: observation older than latest"),
    ("replayed report", lambda w3: _report(w3, 5), "EPO: round not newer"),
    ("stale observation", lambda w3: _report(w3, 6, age=3601), "EPO: stale observation"),
    ("answer above max", lambda w3: _report(w3, 6, price=2.01), "EPO: answer out of bounds"),
    ("answer below min", lambda w3: _report(w3, 6, price=0.0), "EPO: answer out of bounds"),
])
def test_bad_reports_revert_with_a_reason(w3: Web3, feed: Contract, oracle_key: LocalAccount,
                                          name: str, mutate: Any, reason: str) -> None:
    if name != "stale observation":
        send(w3, oracle_key, feed.functions.transmit(*_report(w3, 5).args()))
    assert _reverts(w3, oracle_key, feed.functions.transmit(*mutate(w3).args())) == reason, name


def test_unauthorised_transmitter_is_refused(w3: Web3, feed: Contract) -> None:
    stranger = _funded(w3)
    reason = _reverts(w3, stranger, feed.functions.transmit(*_report(w3, 1).args()))
    assert reason == "EPO: unauthorised transmitter"


def _committee(w3: Web3, feed: Contract, owner: LocalAccount, n: int, quorum: int,
               transmitter: LocalAccount) -> list[LocalAccount]:
    signers = [Account.create() for _ in range(n)]
    send(w3, owner, feed.functions.setSigners([s.address for s in signers], quorum))
    send(w3, owner, feed.functions.setTransmitters([transmitter.address]))
    return signers


def _signed(w3: Web3, feed: Contract, report: PriceReport, keys: list[LocalAccount]) -> Any:
    blob = signature_blob([sign_report(k, report, w3.eth.chain_id, feed.address) for k in keys])
    return feed.functions.transmitSigned(*report.args(), blob)


def test_committee_quorum_two_of_four(w3: Web3, feed: Contract, oracle_key: LocalAccount) -> None:
    transmitter = _funded(w3)
    signers = _committee(w3, feed, oracle_key, 4, 2, transmitter)
    report = _report(w3, 1)
    digest = feed.functions.reportDigest(*report.args()).call()
    typed = Account.sign_typed_data(signers[0].key,
                                    full_message=report.typed_data(w3.eth.chain_id, feed.address))
    assert digest == typed.message_hash
    send(w3, transmitter, _signed(w3, feed, report, signers[:2]))
    assert feed.functions.latestRoundData().call()[0] == 1
    # a transmitter that is not a signer cannot use the quorum-of-one path
    assert _reverts(w3, transmitter, feed.functions.transmit(*_report(w3, 2).args())) == \
        "EPO: transmitter is not a signer"


@pytest.mark.parametrize(("case", "reason"), [
    ("too few", "EPO: too few signatures"),
    ("non-signer", "EPO: signature by a non-signer"),
    ("duplicate", "EPO: duplicate signature"),
    ("other feed", "EPO: signature by a non-signer"),
])
def test_committee_attacks(w3: Web3, feed: Contract, oracle_key: LocalAccount, case: str,
                           reason: str) -> None:
    transmitter = _funded(w3)
    signers = _committee(w3, feed, oracle_key, 4, 2, transmitter)
    report = _report(w3, 1)
    keys = {"too few": [signers[0]], "non-signer": [signers[0], Account.create()],
            "duplicate": [signers[1], signers[1]], "other feed": signers[:2]}[case]
    signed = report
    if case == "other feed":  # signatures for another zone's feed do not verify here
        signed = PriceReport(feed_id("zone-2"), 1, report.answer, report.observed_at,
                             report.curve_hash)
    blob = signature_blob([sign_report(k, signed, w3.eth.chain_id, feed.address) for k in keys])
    call = feed.functions.transmitSigned(*report.args(), blob)
    assert _reverts(w3, transmitter, call) == reason


def test_transmitter_signer_counts_once_and_signatures_are_64_bytes(
        w3: Web3, feed: Contract, oracle_key: LocalAccount) -> None:
    others = [Account.create() for _ in range(2)]
    send(w3, oracle_key, feed.functions.setSigners([oracle_key.address] + [o.address for o in others], 2))
    report = _report(w3, 1)
    blob = signature_blob([sign_report(others[1], report, w3.eth.chain_id, feed.address)])
    assert len(blob) == 64
    malformed = feed.functions.transmitSigned(*report.args(), blob + b"\x1b")
    assert _reverts(w3, oracle_key, malformed) == "EPO: malformed signatures"
    flipped = blob[:32] + bytes([blob[32] ^ 0x80]) + blob[33:]  # the other y parity
    assert _reverts(w3, oracle_key, feed.functions.transmitSigned(*report.args(), flipped)) == \
        "EPO: signature by a non-signer"
    assert _reverts(w3, oracle_key, _signed(w3, feed, report, [oracle_key])) == \
        "EPO: duplicate signature"  # the transmitter already counts as one signer
    send(w3, oracle_key, feed.functions.transmitSigned(*report.args(), blob))
    assert feed.functions.latestRoundData().call()[1] == report.answer


@pytest.mark.parametrize(("n", "quorum", "target"), [(1, 1, 56_000), (4, 2, 62_000),
                                                     (7, 3, 68_000)])
def test_price_round_gas_stays_within_target(w3: Web3, feed: Contract, oracle_key: LocalAccount,
                                             n: int, quorum: int, target: int) -> None:
    others = [Account.create() for _ in range(n - 1)]
    send(w3, oracle_key, feed.functions.setSigners(
        [oracle_key.address] + [o.address for o in others], quorum))
    gas = []
    for round_id in (1, 2):  # the first round warms the hot slot
        report = _report(w3, round_id, price=1.23456789)
        call = feed.functions.transmit(*report.args()) if quorum == 1 else \
            _signed(w3, feed, report, others[:quorum - 1])
        gas.append(send(w3, oracle_key, call)["gasUsed"])
    assert gas[1] <= target, gas


def test_quorum_one_transmit_refused_when_quorum_is_higher(w3: Web3, feed: Contract,
                                                           oracle_key: LocalAccount) -> None:
    send(w3, oracle_key, feed.functions.setSigners([oracle_key.address,
                                                    Account.create().address], 2))
    reason = _reverts(w3, oracle_key, feed.functions.transmit(*_report(w3, 1).args()))
    assert reason == "EPO: too few signatures"


def test_only_owner_rotates_and_ownership_moves_in_two_steps(w3: Web3, feed: Contract,
                                                             oracle_key: LocalAccount) -> None:
    stranger = _funded(w3)
    assert _reverts(w3, stranger, feed.functions.setSigners([stranger.address], 1)) == \
        "Owned: caller is not the owner"
    send(w3, oracle_key, feed.functions.transferOwnership(stranger.address))
    assert feed.functions.owner().call() == oracle_key.address
    send(w3, stranger, feed.functions.acceptOwnership())
    assert feed.functions.owner().call() == stranger.address


def test_no_older_than(w3: Web3, feed: Contract, oracle_key: LocalAccount) -> None:
    send(w3, oracle_key, feed.functions.transmit(*_report(w3, 1, age=600).args()))
    assert feed.functions.latestRoundDataNoOlderThan(3600).call()[0] == 1
    with pytest.raises(REVERT_ERRORS) as info:
        feed.functions.latestRoundDataNoOlderThan(60).call()
    assert revert_reason(info.value) == "EPO: stale price"


def _anomalies(n: int) -> list[bytes]:
    return [anomaly_leaf(f"m{i}", 1_700_000_000 + i, "spike", "high", 0.9) for i in range(n)]


def test_anomaly_batch_proofs_and_flags(w3: Web3, deployed: dict[str, str],
                                        oracle_key: LocalAccount) -> None:
    registry = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    leaves = _anomalies(5)
    tree = MerkleTree(leaves)
    meter = meter_key("m3")
    send(w3, oracle_key, registry.functions.recordBatch(1, tree.root, 5, 3, _now(w3), [meter], []))
    for i, leaf in enumerate(leaves):
        assert registry.functions.verifyAnomaly(1, leaf, tree.proof(i)).call() is True
    assert registry.functions.isFlagged(meter).call() is True
    bad = [b"\x00" * 32, *tree.proof(2)[1:]]
    with pytest.raises(REVERT_ERRORS) as info:
        registry.functions.verifyAnomaly(1, leaves[2], bad).call()
    assert revert_reason(info.value) == "AR: bad Merkle proof"
    with pytest.raises(REVERT_ERRORS) as info:
        registry.functions.verifyAnomaly(1, _anomalies(6)[5], tree.proof(4)).call()
    assert revert_reason(info.value) == "AR: bad Merkle proof"
    send(w3, oracle_key, registry.functions.recordBatch(2, b"\x00" * 32, 0, 0, _now(w3), [],
                                                        [meter]))
    assert registry.functions.isFlagged(meter).call() is False
    stranger = _funded(w3)
    assert _reverts(w3, stranger, registry.functions.recordBatch(
        3, tree.root, 5, 3, _now(w3), [], [])) == "AR: unauthorised reporter"
    assert _reverts(w3, oracle_key, registry.functions.recordBatch(
        2, tree.root, 5, 3, _now(w3), [], [])) == "AR: batch not newer"


def test_schedule_commitment_checks_the_hash(w3: Web3, deployed: dict[str, str],
                                             oracle_key: LocalAccount) -> None:
    registry = bind(w3, "GridOptimizationRegistry", deployed["GridOptimizationRegistry"])
    schedule = schedule_bytes({"flows": [[1.5, -0.5]], "soc": [0.4, 0.6]})
    digest = Web3.keccak(schedule)
    receipt = send(w3, oracle_key, registry.functions.commitSchedule(
        1_700_000_000, digest, 12_345, 4_200, 1_000, 5_000, schedule))
    event = registry.events.ScheduleCommitted().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert event["schedule"] == schedule and event["renewableShareBps"] == 4_200
    assert registry.functions.getCommitment(1_700_000_000).call()[0] == digest
    assert _reverts(w3, oracle_key, registry.functions.commitSchedule(
        1_700_003_600, b"\x01" * 32, 0, 0, 0, 0, schedule)) == \
        "GOR: schedule does not match its hash"


def test_settlement_consumer_reads_feed_and_refuses_flagged_meters(
        w3: Web3, deployed: dict[str, str], feed: Contract, oracle_key: LocalAccount) -> None:
    artifact = load_artifact("EnergySettlement")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = send(w3, oracle_key, factory.constructor(feed.address, deployed["AnomalyRegistry"],
                                                       900))
    settlement = bind(w3, "EnergySettlement", receipt["contractAddress"])
    good, bad = meter_key("good"), meter_key("bad")
    with pytest.raises(REVERT_ERRORS) as info:  # no price yet
        settlement.functions.quote(good, 1000).call()
    assert revert_reason(info.value) == "No data present"
    send(w3, oracle_key, feed.functions.transmit(*_report(w3, 1, price=0.25).args()))
    amount, price, round_id = settlement.functions.quote(good, 2_000).call()
    assert (amount, price, round_id) == (50_000_000, 25_000_000, 1)
    registry = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    tree = MerkleTree(_anomalies(1))
    send(w3, oracle_key, registry.functions.recordBatch(1, tree.root, 1, 4, _now(w3), [bad], []))
    assert _reverts(w3, oracle_key, settlement.functions.settle(bad, 1000)) == \
        "SET: meter is flagged"
    w3.provider.ethereum_tester.time_travel(_now(w3) + 1000)  # type: ignore[attr-defined]
    assert _reverts(w3, oracle_key, settlement.functions.settle(good, 1000)) == "SET: stale price"


def test_anomaly_batch_gas_does_not_grow_with_the_batch(w3: Web3, deployed: dict[str, str],
                                                        oracle_key: LocalAccount) -> None:
    registry = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    gas = []
    for batch_id, size in enumerate((1, 1, 1000), start=1):  # the first batch warms the slots
        tree = MerkleTree(_anomalies(size))
        receipt = send(w3, oracle_key, registry.functions.recordBatch(
            batch_id, tree.root, size, 3, _now(w3), [], []))
        gas.append(receipt["gasUsed"])
    assert abs(gas[2] - gas[1]) <= 64  # only calldata bytes of the count differ

"""EnergyPriceOracle on py-evm: Chainlink-compatible reads, bad reports and committee attacks
reverting with their reason, role changes, gas within its targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chainkit import next_time
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import (
    REVERT_ERRORS,
    FeedParams,
    bind,
    check_interval,
    deploy_all,
    deploy_params,
    revert_reason,
    send,
)
from oracle.chain.encoding import (
    PriceReport,
    feed_id,
    sign_report,
    signature_blob,
    to_answer,
)
from oracle.chain.provider import fund_from_dev_account
from oracle.config import Settings
from oracle.errors import ConfigError, TxReverted
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade


def _now(w3: Web3) -> int:
    return next_time(w3)  # the block the next transaction lands in


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
    assert feed.functions.version().call() == 5
    assert feed.functions.description().call() == "SolChain zone-1 energy price"
    report = _report(w3, 7, price=0.1234)
    receipt = send(w3, oracle_key, feed.functions.transmit(*report.args()))
    round_id, answer, started, updated, answered = feed.functions.latestRoundData().call()
    assert (round_id, answer, started, answered) == (7, 12_340_000, report.observed_at, 7)
    assert updated == w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert feed.functions.getRoundData(7).call()[1] == 12_340_000
    events = feed.events.AnswerUpdated().process_receipt(receipt, errors=DISCARD)
    assert events[0]["args"]["current"] == 12_340_000 and events[0]["args"]["roundId"] == 7
    assert events[0]["args"]["updatedAt"] == updated
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
    ("round of a later interval", lambda w3: _report(w3, _now(w3) // 3600 + 1),
     "EPO: round ahead of its observation"),
    ("observation 61 s ahead", lambda w3: _report(w3, 6, age=-61), "EPO: observation in the future"),
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


@pytest.mark.parametrize(("n", "quorum", "target"), [(1, 1, 56_000), (4, 2, 62_000), (7, 3, 68_000),
                                                     (13, 5, 81_025)])
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


def test_deploy_is_one_transaction_per_contract_and_leaves_each_usable(tmp_path: Path, w3: Web3) -> None:
    key = _funded(w3)
    engine = make_engine(f"sqlite:///{tmp_path}/d.db")
    upgrade(engine)
    nonce = w3.eth.get_transaction_count(key.address)
    deployed = deploy_all(w3, key, Deployments(engine), FeedParams("zone-1", "d", 8, 0.01, 2.0, 3600))
    assert w3.eth.get_transaction_count(key.address) - nonce == 3
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    assert (feed.functions.quorum().call(), feed.functions.signers().call(), feed.functions.transmitters().call()) \
        == (1, [key.address], [key.address])
    assert feed.functions.roundInterval().call() == 3600
    now = _now(w3)
    send(w3, key, feed.functions.transmit(*_report(w3, now // 3600).args()))
    registry = bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])
    grid = bind(w3, "GridOptimizationRegistry", deployed["GridOptimizationRegistry"])
    assert registry.functions.isReporter(key.address).call() and grid.functions.isReporter(key.address).call()
    assert (registry.functions.batchInterval().call(), grid.functions.planningHorizon().call()) == (3600, 86_400)
    known = Deployments(engine).addresses(w3.eth.chain_id)
    check_interval(w3, known, 3600)
    with pytest.raises(ConfigError, match=r"scheduler\.interval_s is 900") as info:
        check_interval(w3, known, 900)
    assert info.value.key == "scheduler.interval_s"


def test_deploy_params_come_from_the_settings_in_one_place() -> None:
    settings = Settings()
    params = deploy_params(settings.model_copy(update={
        "scheduler": settings.scheduler.model_copy(update={"interval_s": 900}),
        "pricing": settings.pricing.model_copy(update={"heartbeat_s": 3600, "floor": 0.02, "cap": 0.9})}))
    assert (params.interval_s, params.max_observation_age_s, params.min_price, params.max_price) == \
        (900, 7200, 0.02, 0.9)
    assert params.zone == settings.pricing.zone and params.decimals == settings.chain.feed_decimals

"""The transaction manager on py-evm: outbox, confirmation depth, reverts, node failures, reorgs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import select
from web3 import Web3

from oracle.chain.contracts import bind
from oracle.chain.encoding import PriceReport, feed_id, to_answer
from oracle.chain.txmanager import TxManager
from oracle.config import ChainSettings
from oracle.errors import RpcUnavailable
from oracle.store.engine import session_scope
from oracle.store.outbox import Outbox
from oracle.store.tables import ChainTransaction, NonceState

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _tester(w3: Web3) -> Any:
    return w3.provider.ethereum_tester  # type: ignore[attr-defined]


def _queue(txm: TxManager, w3: Web3, round_id: int, report_id: str | None = None) -> str:
    now = int(w3.eth.get_block("latest")["timestamp"])
    report = PriceReport(feed_id("zone-1"), round_id, to_answer(0.1 + round_id / 100, 8), now,
                         b"\x01" * 32)
    report_id = report_id or f"price:zone-1:{round_id}"
    assert txm.queue(report_id, "price", "EnergyPriceOracle", "transmit", report.args(), T0,
                     {"round": round_id})
    return report_id


def _attempts(engine: Engine, report_id: str) -> list[ChainTransaction]:
    with session_scope(engine) as session:
        return list(session.exec(select(ChainTransaction).where(
            ChainTransaction.report_id == report_id)).all())


@pytest.fixture
def txm(w3: Web3, engine: Engine, oracle_key: LocalAccount,
        chain_settings: ChainSettings) -> TxManager:
    manager = TxManager(w3, Outbox(engine, w3.eth.chain_id, oracle_key.address), oracle_key,
                        chain_settings)
    manager.resync()
    return manager


def test_report_is_confirmed_after_the_configured_depth_and_queued_once(
        w3: Web3, engine: Engine, txm: TxManager, deployed: dict[str, str]) -> None:
    report_id = _queue(txm, w3, 1)
    assert not txm.queue(report_id, "price", "EnergyPriceOracle", "transmit", [9, 1, 1, b"\0" * 32], T0)
    assert txm.tick().broadcast == [report_id]
    assert txm.status(report_id) == "broadcast"  # mined, but 0 blocks on top
    _tester(w3).mine_blocks(1)
    assert txm.tick().confirmed == []
    _tester(w3).mine_blocks(1)
    assert txm.tick().confirmed == [report_id]
    [attempt] = _attempts(engine, report_id)
    assert attempt.status == "confirmed" and attempt.gas_used and attempt.gas_used < 60_000
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    assert feed.functions.latestRoundData().call()[0] == 1
    with session_scope(engine) as session:
        state = session.get(NonceState, (w3.eth.chain_id, txm.account.address))
        assert state is not None and state.next_nonce == attempt.nonce + 1


def test_a_report_that_would_revert_fails_with_its_reason_and_is_not_sent(
        w3: Web3, engine: Engine, txm: TxManager) -> None:
    _queue(txm, w3, 5)
    txm.tick()
    stale = _queue(txm, w3, 4)
    summary = txm.tick()
    assert [e.reason for e in summary.reverted] == ["EPO: round not newer"]
    assert txm.status(stale) == "failed" and _attempts(engine, stale) == []


def test_a_mined_revert_is_decoded_from_the_chain(w3: Web3, engine: Engine, txm: TxManager,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    first = _queue(txm, w3, 2, "a")
    txm.tick()
    # skip the pre-flight check so the bad report really lands (as when a competing report is
    # mined between estimate and inclusion)
    monkeypatch.setattr(w3.eth, "estimate_gas", lambda *args, **kwargs: 150_000)
    second = _queue(txm, w3, 1, "b")
    txm.tick()
    _tester(w3).mine_blocks(3)
    summary = txm.tick()
    assert [e.reason for e in summary.reverted] == ["EPO: round not newer"]
    [attempt] = _attempts(engine, second)
    assert summary.reverted[0].tx_hash == attempt.tx_hash and attempt.status == "reverted"
    assert (txm.status(first), txm.status(second)) == ("confirmed", "failed")


@pytest.mark.parametrize("reached_node", [True, False])
def test_node_down_mid_submission_loses_nothing_and_sends_nothing_twice(
        w3: Web3, engine: Engine, txm: TxManager, deployed: dict[str, str],
        monkeypatch: pytest.MonkeyPatch, reached_node: bool) -> None:
    report_id = _queue(txm, w3, 1)
    real_send = w3.eth.send_raw_transaction
    nonce_before = w3.eth.get_transaction_count(txm.account.address)

    def dropped(raw: Any) -> Any:
        if reached_node:  # the node got it, the answer was lost
            real_send(raw)
        raise RpcUnavailable("every RPC endpoint failed for eth_sendRawTransaction")

    monkeypatch.setattr(w3.eth, "send_raw_transaction", dropped)
    assert "every RPC endpoint failed" in (txm.tick().deferred or "")
    [attempt] = _attempts(engine, report_id)
    assert attempt.status == "signed"
    with session_scope(engine) as session:
        state = session.get(NonceState, (w3.eth.chain_id, txm.account.address))
        assert state is not None and state.next_nonce == attempt.nonce  # not advanced
    monkeypatch.setattr(w3.eth, "send_raw_transaction", real_send)
    restarted = TxManager(w3, txm.store, txm.account, txm.settings)  # as after a restart
    restarted.resync()
    for _ in range(3):
        restarted.tick()
        _tester(w3).mine_blocks(1)
    restarted.tick()
    assert restarted.status(report_id) == "confirmed"
    assert len(_attempts(engine, report_id)) == 1
    assert w3.eth.get_transaction_count(txm.account.address) == nonce_before + 1
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    assert feed.functions.latestRoundData().call()[0] == 1


def test_a_reorged_report_is_resent_and_confirmed(w3: Web3, engine: Engine,
                                                  txm: TxManager) -> None:
    report_id = _queue(txm, w3, 1)
    snapshot = _tester(w3).take_snapshot()
    txm.tick()
    _tester(w3).mine_blocks(1)
    txm.tick()
    assert _attempts(engine, report_id)[0].status == "mined"
    _tester(w3).revert_to_snapshot(snapshot)  # the block with our transaction is gone
    _tester(w3).mine_blocks(1)
    assert txm.tick().reorged == [report_id]
    _tester(w3).mine_blocks(3)
    assert txm.tick().confirmed == [report_id]
    assert len(_attempts(engine, report_id)) == 1


def test_resync_takes_the_nonce_from_the_chain(w3: Web3, engine: Engine, txm: TxManager,
                                               oracle_key: LocalAccount) -> None:
    with session_scope(engine) as session:
        state = session.get(NonceState, (w3.eth.chain_id, oracle_key.address))
        assert state is not None
        state.next_nonce = 0  # a store restored from an old backup
        session.add(state)
    assert txm.resync() == w3.eth.get_transaction_count(oracle_key.address, "pending")


def test_queue_for_an_undeployed_contract_is_a_config_error(w3: Web3, engine: Engine,
                                                            oracle_key: LocalAccount) -> None:
    from oracle.errors import ConfigError
    txm = TxManager(w3, Outbox(engine, w3.eth.chain_id, oracle_key.address), oracle_key,
                    ChainSettings(), contract_addresses={})
    with pytest.raises(ConfigError, match="oracle contracts deploy"):
        txm.queue("x", "price", "EnergyPriceOracle", "transmit", [1, 1, 1, b"\0" * 32], T0)


def test_a_report_whose_effect_is_already_on_chain_is_confirmed_not_failed(
        w3: Web3, engine: Engine, txm: TxManager, deployed: dict[str, str]) -> None:
    from oracle.chain.contracts import send

    report_id = _queue(txm, w3, 3)
    report = txm.store.report(report_id)
    assert report is not None
    # another process (same key) landed exactly this report: the pre-flight call reverts
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    send(w3, txm.account, feed.functions.transmit(*feed.decode_function_input(
        report.payload["data"])[1].values()))
    summary = txm.tick()
    assert summary.confirmed == [report_id] and summary.reverted == []
    assert txm.status(report_id) == "confirmed" and _attempts(engine, report_id) == []


def test_a_nonce_used_by_another_process_is_signed_again_in_the_same_tick(
        w3: Web3, engine: Engine, txm: TxManager) -> None:
    first = _queue(txm, w3, 1)
    txm.tick()
    other = txm.account.sign_transaction({  # another process with our key
        "type": 2, "chainId": w3.eth.chain_id, "to": txm.account.address, "value": 1,
        "nonce": w3.eth.get_transaction_count(txm.account.address), "gas": 21_000,
        "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9})
    w3.eth.send_raw_transaction(other.raw_transaction)
    second = _queue(txm, w3, 2)
    summary = txm.tick()
    assert summary.broadcast == [second] and summary.deferred is None
    _tester(w3).mine_blocks(3)
    txm.tick()
    assert (txm.status(first), txm.status(second)) == ("confirmed", "confirmed")
    assert txm.store.next_nonce() == w3.eth.get_transaction_count(txm.account.address)


def test_finality_by_the_nodes_finalized_block_when_asked(
        w3: Web3, engine: Engine, oracle_key: LocalAccount) -> None:
    from oracle.chain.confirmer import Confirmer

    head = w3.eth.block_number
    txm = TxManager(w3, Outbox(engine, w3.eth.chain_id, oracle_key.address), oracle_key,
                    ChainSettings(finality_tag=True, finality_depth=50))
    assert isinstance(txm.confirmer, Confirmer)
    assert txm.confirmer.finalized_block(head) == w3.eth.get_block("finalized")["number"]
    by_depth = TxManager(w3, txm.store, oracle_key, ChainSettings(finality_depth=50))
    assert by_depth.confirmer.finalized_block(head) == max(0, head - 50)

"""The transaction manager against a real hardhat node behind a fault-injecting JSON-RPC proxy.

Each test queues reports of all three kinds and drives one TxManager (never restarted) through
a fault: proxy faults on every method, replies lost after the node accepted, another process
using the key, re-orgs of one block and deeper than ``confirmations`` (evm_snapshot /
evm_revert), a re-org whose freed nonce another transaction takes, a base fee above the fee
cap, the key out of funds, failover between two nodes. Afterwards every report is confirmed,
on chain exactly once and in queue order, and the stored next nonce is the chain's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chain_harness import (
    Node,
    Reports,
    assert_landed_once_in_order,
    deploy,
    drive,
    manager,
    settled,
)
from eth_account.signers.local import LocalAccount
from hardhat_process import hardhat_node
from rpc_proxy import ACTIONS, RpcProxy
from sqlalchemy.engine import Engine

from oracle.chain.txmanager import TxManager
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

pytestmark = pytest.mark.hardhat
GWEI = 10**9


@pytest.fixture(scope="module")
def chain(hardhat_url: str) -> tuple[Node, LocalAccount, dict[str, str]]:
    node = Node(hardhat_url)
    key, deployed = deploy(node)
    return node, key, deployed


@pytest.fixture
def node(chain: tuple[Node, LocalAccount, dict[str, str]]) -> Iterator[Node]:
    """The chain as deployed, restored after each test (mining back to automine)."""
    node = chain[0]
    snapshot = node.rpc("evm_snapshot")
    start = node.w3.eth.block_number + 1
    node.start = start  # type: ignore[attr-defined]
    yield node
    node.rpc("evm_setAutomine", True)
    node.rpc("evm_revert", snapshot)


@pytest.fixture
def proxy(hardhat_url: str) -> Iterator[RpcProxy]:
    with RpcProxy(hardhat_url) as proxy:
        yield proxy


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/txm.db")
    upgrade(engine)
    return engine


@pytest.fixture
def make(chain: tuple[Node, LocalAccount, dict[str, str]], engine: Engine, proxy: RpcProxy,
         node: Node) -> Any:
    def build(**settings: Any) -> TxManager:
        return manager([proxy.url], engine, chain[1], chain[2], **settings)
    return build


def _check(txm: TxManager, node: Node, reports: Reports) -> None:
    assert_landed_once_in_order(txm, node, reports, node.start)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- proxy faults


@pytest.mark.parametrize("action", ACTIONS)
def test_a_fault_on_any_call_loses_nothing_and_lands_each_report_once(
        make: Any, node: Node, proxy: RpcProxy, action: str) -> None:
    txm = make(rpc_retries=1)
    reports = Reports(node)
    proxy.chaos(0.3, seed=sum(map(ord, action)), actions=[action], delay_s=0.2)
    ids = reports.queue(txm, 6)
    drive(txm, node, ids, ticks=60)
    proxy.clear()
    _check(txm, node, reports)
    assert sum(proxy.injected.values()) >= 5, proxy.injected


LIES = {  # what a node or a proxy in front of it may say about a transaction it took
    "unknown": "injected fault",
    "funds": "insufficient funds for gas * price + value: balance 0, tx cost 1, overshot 1",
    "nonce": "nonce too low: next nonce 9, tx nonce 8",
    "fee": "transaction underpriced: tip needed 1, tip permitted 0",
}


@pytest.mark.parametrize(("action", "said"), [
    ("lose_reply", None), *[("error_after", lie) for lie in LIES]])
@pytest.mark.parametrize("retries", [0, 2])
def test_the_node_accepts_but_the_reply_is_lost_or_an_error(
        make: Any, node: Node, proxy: RpcProxy, action: str, said: str | None,
        retries: int) -> None:
    """The report that did land is confirmed (not 'failed: round not newer'), it lands once,
    and the ones after it are not left behind a nonce the chain has passed."""
    txm = make(rpc_retries=retries)
    reports = Reports(node)
    proxy.add(action, "eth_sendRawTransaction", calls={1, 3},
              message=LIES[said] if said else "injected fault")
    ids = reports.queue(txm, 4)
    drive(txm, node, ids)
    _check(txm, node, reports)
    assert proxy.injected[(action, "eth_sendRawTransaction")] == 2


@pytest.mark.parametrize("said", ["funds", "nonce", "fee"])
def test_a_refusal_said_of_a_transaction_the_pool_took_lands_it_once(
        make: Any, node: Node, proxy: RpcProxy, said: str) -> None:
    """Not mined yet when the lie arrives: the attempt is dropped, then found mined."""
    txm = make()
    reports = Reports(node)
    node.rpc("evm_setAutomine", False)
    proxy.add("error_after", "eth_sendRawTransaction", calls={1}, message=LIES[said])
    ids = reports.queue(txm, 3)
    drive(txm, node, ids)
    _check(txm, node, reports)


def test_an_rpc_outage_is_waited_out_without_a_restart(make: Any, node: Node,
                                                      proxy: RpcProxy) -> None:
    txm = make()
    reports = Reports(node)
    ids = reports.queue(txm, 2)
    proxy.add("drop")  # every call, until cleared
    down = [txm.tick() for _ in range(3)]
    assert all(s.deferred and "every RPC endpoint failed" in s.deferred for s in down)
    assert {txm.status(rid) for rid in ids} == {"pending"}
    proxy.clear()
    drive(txm, node, ids + reports.queue(txm, 2))
    _check(txm, node, reports)


# ---------------------------------------------------------------- the key used elsewhere


def _foreign(node: Node, key: LocalAccount, nonce: int, fee_gwei: int = 5) -> str:
    """Another process with our key: a plain transfer at ``nonce``, sent to the node directly."""
    signed = key.sign_transaction({
        "type": 2, "chainId": node.w3.eth.chain_id, "nonce": nonce, "to": key.address,
        "value": 1, "gas": 21_000, "maxFeePerGas": fee_gwei * GWEI,
        "maxPriorityFeePerGas": fee_gwei * GWEI})
    return node.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


def test_a_nonce_used_by_another_process_is_resynced_within_the_run(
        make: Any, node: Node, chain: Any) -> None:
    key = chain[1]
    txm = make()
    reports = Reports(node)
    drive(txm, node, reports.queue(txm, 1))
    _foreign(node, key, node.w3.eth.get_transaction_count(key.address))  # mined: automine
    ids = reports.queue(txm, 3)
    first = txm.tick()
    assert first.broadcast == ids and first.deferred is None  # re-signed in the same run
    drive(txm, node, ids)
    _check(txm, node, reports)


def test_a_nonce_taken_while_ours_waits_in_the_pool_is_signed_again_in_order(
        make: Any, node: Node, chain: Any) -> None:
    key = chain[1]
    txm = make()
    reports = Reports(node)
    node.rpc("evm_setAutomine", False)
    first = reports.queue(txm, 1)
    assert txm.tick().broadcast == first
    [ours] = txm.store.attempts(report_id=first[0])
    _foreign(node, key, ours.nonce, fee_gwei=50)  # replaces ours in the pool
    node.mine()
    later = reports.queue(txm, 2)
    summaries = drive(txm, node, first + later)
    assert first[0] in {rid for s in summaries for rid in s.resigned}
    _check(txm, node, reports)
    statuses = {a.tx_hash: a.status for a in txm.store.attempts(report_id=first[0])}
    assert statuses[ours.tx_hash] == "dropped" and "confirmed" in statuses.values()


# ---------------------------------------------------------------- re-orgs


def test_a_one_block_reorg_sends_the_reports_again(make: Any, node: Node) -> None:
    txm = make(confirmations=2)
    reports = Reports(node)
    node.rpc("evm_setAutomine", False)
    ids = reports.queue(txm, 2)
    before = node.rpc("evm_snapshot")  # the pool is still empty
    assert txm.tick().broadcast == ids
    node.mine()  # one block with both
    txm.tick()
    assert {txm.status(rid) for rid in ids} == {"broadcast"}
    assert all(a.status == "mined" for rid in ids for a in txm.store.attempts(report_id=rid))
    node.rpc("evm_revert", before)  # that block is gone, and the pool with it
    node.mine()
    summaries = drive(txm, node, ids)
    assert sorted(summaries[0].reorged) == sorted(ids)
    _check(txm, node, reports)
    assert all(len(txm.store.attempts(report_id=rid)) == 1 for rid in ids)  # the same bytes


def test_a_reorg_deeper_than_confirmations_is_found_and_the_next_report_goes_out(
        make: Any, node: Node) -> None:
    txm = make(confirmations=2, finality_depth=12)
    reports = Reports(node)
    before = node.rpc("evm_snapshot")
    ids = reports.queue(txm, 3)
    drive(txm, node, ids)
    depth = node.w3.eth.block_number - max(
        a.block_number or 0 for rid in ids for a in txm.store.attempts(report_id=rid))
    assert depth >= 2 and {txm.status(rid) for rid in ids} == {"confirmed"}
    node.rpc("evm_revert", before)  # every block since: deeper than confirmations
    node.mine()
    later = reports.queue(txm, 2)
    summaries = drive(txm, node, ids + later)
    assert sorted(summaries[0].reorged) == sorted(ids)
    _check(txm, node, reports)


def test_a_reorg_that_frees_a_nonce_another_transaction_takes(
        make: Any, node: Node, chain: Any) -> None:
    key = chain[1]
    txm = make(confirmations=1, resend_after_blocks=1)
    reports = Reports(node)
    before = node.rpc("evm_snapshot")
    ids = reports.queue(txm, 2)
    drive(txm, node, ids)
    [first] = [a for a in txm.store.attempts(report_id=ids[0]) if a.status == "confirmed"]
    node.rpc("evm_revert", before)
    _foreign(node, key, first.nonce)  # takes the nonce our first report had
    node.mine()
    summaries = drive(txm, node, ids)
    resigned = {rid for s in summaries for rid in s.resigned}
    assert set(ids) <= resigned  # the second goes again too: the order holds
    _check(txm, node, reports)


# ---------------------------------------------------------------- fees and funds


def _alerts(summaries: list[Any]) -> list[tuple[str, str]]:
    return [(a.kind, a.ref) for s in summaries for a in s.alerts]


def test_a_transaction_stuck_under_a_base_fee_above_the_cap_alerts_once_and_lands(
        make: Any, node: Node) -> None:
    txm = make(max_fee_per_gas_gwei=20, resend_after_blocks=2)
    reports = Reports(node)
    node.rpc("evm_setAutomine", False)
    ids = reports.queue(txm, 1)
    summaries = [txm.tick()]
    for _ in range(8):  # fees spike far above the cap: nothing of ours gets in
        node.rpc("hardhat_setNextBlockBaseFeePerGas", hex(80 * GWEI))
        node.mine()
        summaries.append(txm.tick())
    assert txm.status(ids[0]) == "broadcast"
    assert any(s.bumped for s in summaries)
    assert _alerts(summaries) == [("tx_stuck", ids[0])]
    assert all(a.max_fee_per_gas <= 20 * GWEI for a in txm.store.attempts(report_id=ids[0]))
    node.rpc("hardhat_setNextBlockBaseFeePerGas", hex(GWEI))
    summaries = drive(txm, node, ids)
    assert _alerts(summaries) == [("tx_unstuck", ids[0])]
    _check(txm, node, reports)


def test_a_base_fee_above_the_cap_refused_at_broadcast_waits_and_alerts(
        make: Any, node: Node) -> None:
    txm = make(max_fee_per_gas_gwei=5)
    reports = Reports(node)
    ids = reports.queue(txm, 2)
    summaries, rows = [], []
    for _ in range(3):  # automine: the node refuses fees below the next block's base fee
        node.rpc("hardhat_setNextBlockBaseFeePerGas", hex(40 * GWEI))
        summaries.append(txm.tick())
        rows.append(len(txm.store.attempts()))
    assert not any(s.broadcast for s in summaries)
    assert _alerts(summaries) == [("tx_stuck", ids[0])]
    assert {a.status for a in txm.store.attempts()} == {"dropped"}
    assert rows[0] == rows[-1]  # raised to the cap once; later runs send the same bytes
    assert max(a.max_fee_per_gas for a in txm.store.attempts()) == 5 * GWEI
    node.rpc("hardhat_setNextBlockBaseFeePerGas", hex(GWEI))
    summaries = drive(txm, node, ids)
    assert _alerts(summaries) == [("tx_unstuck", ids[0])]
    _check(txm, node, reports)


def test_the_key_out_of_funds_waits_alerts_and_recovers(make: Any, node: Node,
                                                       chain: Any) -> None:
    key = chain[1]
    txm = make(low_balance_eth=1.0)
    reports = Reports(node)
    node.fund(key.address, 10**12)  # not even one report's gas
    ids = reports.queue(txm, 3)
    summaries = []
    for _ in range(3):
        summaries.append(txm.tick())
        node.mine()
    assert all(s.out_of_funds and not s.broadcast for s in summaries)
    assert _alerts(summaries) == [("balance_low", key.address)]
    assert txm.store.attempts() == []  # nothing signed that could not be paid
    node.fund(key.address, 10**21)
    summaries = drive(txm, node, ids)
    assert _alerts(summaries) == [("balance_ok", key.address)]
    _check(txm, node, reports)


def test_a_node_saying_insufficient_funds_holds_the_queue_until_it_takes_it(
        make: Any, node: Node, proxy: RpcProxy) -> None:
    txm = make()
    reports = Reports(node)
    proxy.add("error", "eth_sendRawTransaction", calls={1}, message=(
        "insufficient funds for gas * price + value: balance 0, tx cost 176000000000000, "
        "overshot 176000000000000"))  # geth's words
    ids = reports.queue(txm, 3)
    summaries = drive(txm, node, ids)
    assert summaries[0].out_of_funds and not summaries[0].broadcast
    _check(txm, node, reports)


# ---------------------------------------------------------------- two nodes


def test_rpc_failover_between_two_nodes_keeps_the_outbox(
        chain: Any, node: Node, engine: Engine, proxy: RpcProxy) -> None:
    key, deployed = chain[1], chain[2]
    with hardhat_node() as second_url, RpcProxy(second_url) as second_proxy:
        second = Node(second_url)
        assert deploy(second, key)[1] == deployed  # same key, same nonces: same addresses
        txm = manager([proxy.url, second_proxy.url], engine, key, deployed,
                      max_head_lag_blocks=2, max_rpc_failures=2)
        # the nodes' clocks differ (blocks mined in a burst run ahead): valid on both
        reports = Reports(second, clock=lambda: min(node.now(), second.now()))

        def drive_both(ids: list[str], nodes: list[Node]) -> None:
            for _ in range(40):
                summary = txm.tick()
                if settled(txm, ids) and summary.deferred is None:
                    return
                for n in nodes:
                    n.mine()
            raise AssertionError({rid: txm.status(rid) for rid in ids})

        drive_both(reports.queue(txm, 2), [node, second])  # both nodes get every transaction
        proxy.add("drop")  # the first node goes away
        drive_both(reports.queue(txm, 2), [second])
        proxy.clear()  # it is back, but it stops following the chain
        node.rpc("evm_setAutomine", False)
        second.mine(4)
        drive_both(reports.queue(txm, 2), [second])
        assert [ep.healthy for ep in txm.w3.provider.endpoints] == [False, True]  # type: ignore[attr-defined]
        assert_landed_once_in_order(txm, second, reports, node.start)  # type: ignore[attr-defined]

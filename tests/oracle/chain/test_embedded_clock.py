"""The embedded py-evm chain keeps its block clock with the wall clock: after a quiet spell a
report lands in a block stamped now, not when the previous block was mined."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError

from oracle.chain.contracts import FeedParams, bind, deploy_all
from oracle.chain.provider import EmbeddedChainProvider, connect, fund_from_dev_account
from oracle.chain.reports import anomaly_call
from oracle.config import ChainSettings
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine
from oracle.store.migrate import upgrade

QUIET_S = 600  # ten minutes without a block: two ticks of a five-minute market
FEED = FeedParams(zone="zone-1", description="zone-1", decimals=8, min_price=0.01, max_price=2.0,
                  max_observation_age_s=3600)


class Later:
    """A wall clock that can be moved on, as if the daemon had been quiet."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def test_the_daemon_s_chain_is_the_embedded_chain_with_its_clock() -> None:
    assert isinstance(connect(ChainSettings()).provider, EmbeddedChainProvider)


def test_after_a_quiet_spell_a_transaction_lands_in_a_block_stamped_now() -> None:
    clock = Later()
    w3 = Web3(EmbeddedChainProvider(clock=clock))
    a, b = w3.eth.accounts[:2]
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": a, "to": b, "value": 1}))
    clock.ahead = QUIET_S
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": a, "to": b, "value": 1}))
    stamp = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert abs(stamp - clock()) <= 2


def test_a_clock_behind_the_chain_never_moves_it_back() -> None:
    clock = Later()
    w3 = Web3(EmbeddedChainProvider(clock=clock))
    w3.provider.ethereum_tester.time_travel(int(time.time()) + 3600)  # type: ignore[attr-defined]
    a, b = w3.eth.accounts[:2]
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": a, "to": b, "value": 1}))
    assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] >= int(time.time()) + 3600


def _anomaly_report_after_quiet(provider: EthereumTesterProvider, clock: Later,
                                tmp_path: Path) -> None:
    """Deploy, stay quiet for QUIET_S, then record an anomaly batch detected 'now'."""
    w3 = Web3(provider)
    account = Account.create()
    fund_from_dev_account(w3, account.address, 10**21)
    provider.ethereum_tester.add_account(account.key.hex())  # type: ignore[attr-defined]
    store = make_engine(f"sqlite:///{tmp_path}/d.db")
    upgrade(store)
    registry = bind(w3, "AnomalyRegistry",
                    deploy_all(w3, account, Deployments(store), FEED)["AnomalyRegistry"])
    clock.ahead = QUIET_S
    now = int(clock())
    found = pd.DataFrame({"meter_id": ["a"], "ts": [pd.Timestamp(now - 1800, unit="s", tz="UTC")],
                          "type": ["consumption_spike"], "severity": ["low"], "score": [1.5]})
    call = anomaly_call(now // 3600 - 1, found)
    call.args[4] = now  # detected by the daemon's wall clock, QUIET_S after the last block
    tx = getattr(registry.functions, call.fn_name)(*call.args).transact({"from": account.address})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    assert registry.functions.getBatch(now // 3600 - 1).call()[1] == 1


def test_an_anomaly_report_after_a_quiet_spell_lands(tmp_path: Path) -> None:
    clock = Later()
    _anomaly_report_after_quiet(EmbeddedChainProvider(clock=clock), clock, tmp_path)


def test_without_the_clock_the_same_report_is_refused_as_in_the_future(tmp_path: Path) -> None:
    """The failure the embedded chain's clock exists for: eth-tester's stale block stamp."""
    clock = Later()
    with pytest.raises((ContractLogicError, TransactionFailed), match="detection in the future"):
        _anomaly_report_after_quiet(EthereumTesterProvider(), clock, tmp_path)

"""The chain layer against a real JSON-RPC node: hardhat v2, started and stopped here."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from sqlmodel import select
from web3 import Web3

from oracle.chain.contracts import FeedParams, bind, deploy_all, send
from oracle.chain.encoding import PriceReport, feed_id, to_answer
from oracle.chain.provider import RpcPool, connect, fund_from_dev_account
from oracle.chain.txmanager import TxManager
from oracle.config import ChainSettings
from oracle.errors import RpcUnavailable, TxReverted
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.outbox import Outbox
from oracle.store.tables import ChainTransaction

pytestmark = pytest.mark.hardhat

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dead_url() -> str:
    return f"http://127.0.0.1:{_free_port()}"


@pytest.fixture(scope="module")
def node_url(hardhat_url: str) -> str:
    return hardhat_url


@pytest.fixture(scope="module")
def setup(node_url: str, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Web3, LocalAccount, dict[str, str], ChainSettings]:
    # the first URL is dead: every call fails over to the live node
    settings = ChainSettings(rpc_urls=[_dead_url(), node_url], confirmations=1,
                             resend_after_blocks=2, tx_timeout_s=10)
    w3 = connect(settings)
    key = Account.create()
    fund_from_dev_account(w3, key.address, 10**21)
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hh')}/deploy.db")
    upgrade(engine)
    feed = FeedParams("zone-1", "hardhat feed", 8, 0.01, 2.0, 3600)
    return w3, key, deploy_all(w3, key, Deployments(engine), feed), settings


@pytest.fixture
def chain(setup: tuple[Web3, LocalAccount, dict[str, str], ChainSettings]
          ) -> Iterator[tuple[Web3, LocalAccount, dict[str, str], ChainSettings]]:
    w3 = setup[0]
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield setup
    w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    return engine


def _rpc(w3: Web3, method: str, *params: Any) -> Any:
    return w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def _report(w3: Web3, round_id: int) -> PriceReport:
    now = int(w3.eth.get_block("latest")["timestamp"])
    return PriceReport(feed_id("zone-1"), round_id, to_answer(0.2, 8), now, b"\x05" * 32)


def _manager(chain: tuple[Web3, LocalAccount, dict[str, str], ChainSettings],
             engine: Engine) -> TxManager:
    w3, key, deployed, settings = chain
    txm = TxManager(w3, Outbox(engine, w3.eth.chain_id, key.address), key, settings,
                    contract_addresses=deployed)
    txm.resync()
    return txm


def _attempts(engine: Engine) -> list[ChainTransaction]:
    with session_scope(engine) as session:
        return list(session.exec(select(ChainTransaction).order_by(ChainTransaction.id)).all())


def test_report_lands_through_failover_and_is_confirmed(chain: Any, engine: Engine) -> None:
    w3, _, deployed, _ = chain
    txm = _manager(chain, engine)
    txm.queue("r1", "price", "EnergyPriceOracle", "transmit", _report(w3, 1).args(), T0)
    txm.tick()
    _rpc(w3, "evm_mine")
    assert txm.tick().confirmed == ["r1"]
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    assert feed.functions.latestRoundData().call()[1] == 20_000_000


def test_attacks_revert_with_decoded_reasons_over_json_rpc(chain: Any) -> None:
    w3, key, deployed, _ = chain
    feed = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    stranger = Account.create()
    fund_from_dev_account(w3, stranger.address, 10**18)
    with pytest.raises(TxReverted) as info:
        send(w3, stranger, feed.functions.transmit(*_report(w3, 1).args()))
    assert info.value.reason == "EPO: unauthorised transmitter"
    send(w3, key, feed.functions.transmit(*_report(w3, 2).args()))
    with pytest.raises(TxReverted) as info:
        send(w3, key, feed.functions.transmit(*_report(w3, 2).args()))
    assert info.value.reason == "EPO: round not newer"


def test_stuck_transaction_is_replaced_with_bumped_fees(chain: Any, engine: Engine) -> None:
    w3, _, _, settings = chain
    txm = _manager(chain, engine)
    _rpc(w3, "evm_setAutomine", False)
    txm.queue("r1", "price", "EnergyPriceOracle", "transmit", _report(w3, 1).args(), T0)
    txm.tick()
    [first] = _attempts(engine)
    for _ in range(settings.resend_after_blocks):  # fees spike: our transaction cannot get in
        _rpc(w3, "hardhat_setNextBlockBaseFeePerGas", hex(first.max_fee_per_gas * 4))
        _rpc(w3, "evm_mine")
    assert txm.tick().bumped == ["r1"]
    _rpc(w3, "evm_mine")
    _rpc(w3, "evm_mine")
    assert txm.tick().confirmed == ["r1"]
    old, new = _attempts(engine)
    assert (old.status, new.status, old.nonce) == ("replaced", "confirmed", new.nonce)
    assert new.max_fee_per_gas >= old.max_fee_per_gas * (1 + settings.fee_bump_percent / 100)
    assert new.max_priority_fee_per_gas >= old.max_priority_fee_per_gas * 1.125


def test_reorged_report_is_resent(chain: Any, engine: Engine) -> None:
    w3, _, _, _ = chain
    txm = _manager(chain, engine)
    txm.queue("r1", "price", "EnergyPriceOracle", "transmit", _report(w3, 1).args(), T0)
    snapshot = _rpc(w3, "evm_snapshot")
    txm.tick()
    assert _attempts(engine)[0].block_number is None  # seen as broadcast, mined next tick
    txm.tick()
    assert _attempts(engine)[0].status == "mined"
    _rpc(w3, "evm_revert", snapshot)  # the block holding it is gone
    _rpc(w3, "evm_mine")
    assert txm.tick().reorged == ["r1"]
    _rpc(w3, "evm_mine")
    _rpc(w3, "evm_mine")
    assert txm.tick().confirmed == ["r1"]
    assert len(_attempts(engine)) == 1


def test_every_endpoint_down_is_rpc_unavailable() -> None:
    provider = RpcPool([_dead_url(), _dead_url()], timeout_s=2)
    with pytest.raises(RpcUnavailable, match="every RPC endpoint failed"):
        _ = Web3(provider).eth.block_number

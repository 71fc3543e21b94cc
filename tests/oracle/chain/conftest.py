"""Fixtures for the chain tests: an in-process py-evm chain, a store, a funded oracle key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import FeedParams, bind, deploy_all
from oracle.chain.provider import fund_from_dev_account
from oracle.config import ChainSettings
from oracle.store.deployments import Deployments
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.tables import ContractDeployment

FEED = FeedParams(zone="zone-1", description="SolChain zone-1 energy price", decimals=8,
                  min_price=0.01, max_price=2.0, max_observation_age_s=3600)


@pytest.fixture(scope="module")
def _chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Web3, LocalAccount, dict[str, str]]:
    """One chain with the contracts deployed per test module; tests revert to a snapshot."""
    w3 = Web3(EthereumTesterProvider())
    account = Account.create()
    fund_from_dev_account(w3, account.address, 10**21)
    w3.provider.ethereum_tester.add_account(account.key.hex())  # type: ignore[attr-defined]  # fast transact()
    scratch = make_engine(f"sqlite:///{tmp_path_factory.mktemp('deploy')}/d.db")
    upgrade(scratch)
    return w3, account, deploy_all(w3, account, Deployments(scratch), FEED)


@pytest.fixture
def w3(_chain: tuple[Web3, LocalAccount, dict[str, str]]) -> Iterator[Web3]:
    chain = _chain[0]
    tester = chain.provider.ethereum_tester  # type: ignore[attr-defined]
    snapshot = tester.take_snapshot()
    yield chain
    tester.revert_to_snapshot(snapshot)


@pytest.fixture
def oracle_key(_chain: tuple[Web3, LocalAccount, dict[str, str]]) -> LocalAccount:
    return _chain[1]


@pytest.fixture
def engine(tmp_path: Path, w3: Web3, _chain: tuple[Web3, LocalAccount, dict[str, str]]) -> Engine:
    """A fresh store that knows the deployed contracts."""
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    with session_scope(engine) as session:
        for name, address in _chain[2].items():
            session.add(ContractDeployment(chain_id=w3.eth.chain_id, name=name, address=address,
                                           artifact_sha256=load_artifact(name).sha256))
    return engine


@pytest.fixture
def deployed(w3: Web3, _chain: tuple[Web3, LocalAccount, dict[str, str]]) -> dict[str, str]:
    return dict(_chain[2])


@pytest.fixture
def feed(w3: Web3, deployed: dict[str, str]) -> Contract:
    return bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])


@pytest.fixture
def registry(w3: Web3, deployed: dict[str, str]) -> Contract:
    return bind(w3, "AnomalyRegistry", deployed["AnomalyRegistry"])


@pytest.fixture
def grid(w3: Web3, deployed: dict[str, str]) -> Contract:
    return bind(w3, "GridOptimizationRegistry", deployed["GridOptimizationRegistry"])


@pytest.fixture
def chain_settings() -> ChainSettings:
    return ChainSettings(confirmations=2, resend_after_blocks=2)

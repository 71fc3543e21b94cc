"""Effect checks on py-evm: a report's round, batch or interval is on chain with its content
(landed), holds other content or was passed by a newer one (superseded), or is not there."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle.chain import effects
from oracle.chain.contracts import bind, send
from oracle.chain.encoding import PriceReport, feed_id, to_answer
from oracle.chain.txmanager import TxManager
from oracle.config import ChainSettings
from oracle.store.outbox import Outbox

T0 = datetime(2024, 6, 1, tzinfo=UTC)
CONTRACTS = {"price": ("EnergyPriceOracle", "transmit"),
             "anomaly": ("AnomalyRegistry", "recordBatch"),
             "optimization": ("GridOptimizationRegistry", "commitSchedule")}


def _args(w3: Web3, kind: str, key: int, variant: int = 0) -> list[Any]:
    now = int(w3.eth.get_block("latest")["timestamp"])
    if kind == "price":
        return list(PriceReport(feed_id("zone-1"), key, to_answer(0.1 + variant / 100, 8), now,
                                b"\x01" * 32).args())
    if kind == "anomaly":
        return [key, Web3.keccak(text=f"root {variant}"), 1, 2, now, [], []]
    body = f"schedule {variant}".encode()
    return [key, Web3.keccak(body), 1, 2, 3, 4, body]


def _land(w3: Web3, key_account: LocalAccount, deployed: dict[str, str], kind: str,
          args: list[Any]) -> None:
    name, fn = CONTRACTS[kind]
    send(w3, key_account, getattr(bind(w3, name, deployed[name]).functions, fn)(*args))


@pytest.fixture
def txm(w3: Web3, engine: Engine, oracle_key: LocalAccount) -> TxManager:
    return TxManager(w3, Outbox(engine, w3.eth.chain_id, oracle_key.address), oracle_key,
                     ChainSettings())


@pytest.mark.parametrize("kind", list(CONTRACTS))
def test_the_effect_of_each_kind_is_found_on_chain(w3: Web3, txm: TxManager,
                                                   oracle_key: LocalAccount,
                                                   deployed: dict[str, str], kind: str) -> None:
    key = 1_700_003_600 if kind == "optimization" else 10
    name, fn = CONTRACTS[kind]
    assert txm.queue("r", kind, name, fn, _args(w3, kind, key), T0)
    report = txm.store.report("r")
    assert report is not None
    assert effects.find(w3, report).effect is effects.Effect.ABSENT
    _land(w3, oracle_key, deployed, kind, _args(w3, kind, key, variant=1))  # other content
    finding = effects.find(w3, report)
    assert finding.effect is effects.Effect.SUPERSEDED and "other content" in finding.detail


@pytest.mark.parametrize("kind", list(CONTRACTS))
def test_landed_and_passed_by_a_newer_one(w3: Web3, txm: TxManager, oracle_key: LocalAccount,
                                          deployed: dict[str, str], kind: str) -> None:
    key = 1_700_003_600 if kind == "optimization" else 10
    name, fn = CONTRACTS[kind]
    args = _args(w3, kind, key)
    txm.queue("mine", kind, name, fn, args, T0)
    txm.queue("older", kind, name, fn, _args(w3, kind, key - 1), T0)
    _land(w3, oracle_key, deployed, kind, args)  # by another process, say
    mine, older = txm.store.report("mine"), txm.store.report("older")
    assert mine is not None and older is not None
    assert effects.find(w3, mine).effect is effects.Effect.LANDED
    finding = effects.find(w3, older)
    assert finding.effect is effects.Effect.SUPERSEDED and "newest" in finding.detail


def test_a_kind_without_a_check_is_absent(w3: Web3, txm: TxManager) -> None:
    txm.queue("x", "forecast", "EnergyPriceOracle", "transmit", _args(w3, "price", 3), T0)
    report = txm.store.report("x")
    assert report is not None
    assert effects.find(w3, report).effect is effects.Effect.ABSENT

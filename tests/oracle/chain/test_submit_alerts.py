"""The submit job on py-evm: the transaction manager's alerts reach the audit log and /metrics
once per change of state, and a pass cut short by the RPC is recorded, then raised."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import text
from sqlalchemy.engine import Engine
from web3 import Web3

from oracle import jobs
from oracle.app import Application
from oracle.chain.txmanager import TxManager
from oracle.config import ChainSettings, Settings
from oracle.errors import RpcUnavailable
from oracle.store.outbox import Outbox


@pytest.fixture
def app(w3: Web3, engine: Engine, oracle_key: LocalAccount) -> Application:
    settings = ChainSettings(low_balance_eth=10**6)  # more than the key holds: low at once
    txm = TxManager(w3, Outbox(engine, w3.eth.chain_id, oracle_key.address), oracle_key,
                    settings)
    application = Application(settings=Settings(), engine=engine, backend=None,  # type: ignore[arg-type]
                              weather=None, plausibility=None)  # type: ignore[arg-type]
    application.w3, application.account, application.txm = w3, oracle_key, txm
    return application


def _alerts(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT ref, payload FROM audit_log WHERE kind = 'chain.alert' ORDER BY seq")))


def _metric(app: Application, name: str, **labels: str) -> float | None:
    return app.metrics.registry.get_sample_value(name, labels or None)


def test_a_low_balance_is_audited_and_flagged_once(app: Application, engine: Engine,
                                                   oracle_key: LocalAccount) -> None:
    for _ in range(3):
        jobs.submit(app.submit_parts())
    [(ref, payload)] = _alerts(engine)
    assert ref == oracle_key.address and "balance_low" in payload
    assert _metric(app, "oracle_signer_balance_low") == 1
    assert _metric(app, "oracle_alerts_total", kind="balance_low") == 1
    assert (_metric(app, "oracle_signer_balance_wei") or 0) > 0
    assert _metric(app, "oracle_stuck_transactions") == 0


def test_a_pass_cut_short_is_recorded_then_raised(app: Application,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.txm is not None

    def down(*args: Any, **kwargs: Any) -> Any:
        raise RpcUnavailable("every RPC endpoint failed for eth_getTransactionCount")

    monkeypatch.setattr(app.txm.tracker, "sync", down)  # fails after the balance was read
    with pytest.raises(RpcUnavailable, match="eth_getTransactionCount"):
        jobs.submit(app.submit_parts())
    assert _metric(app, "oracle_signer_balance_low") == 1  # what the pass saw is kept

"""The deployments repository on SQLite and PostgreSQL: recorded once per (chain, name)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from oracle.store.deployments import Deployments, deployment_rows
from oracle.store.engine import session_scope


def _record(store: Deployments, chain_id: int, name: str, address: str) -> None:
    store.record_deployment(chain_id=chain_id, name=name, address=address, tx_hash="0x01",
                            block_number=7, artifact_sha256="ab" * 32)


def test_deployment_rows_are_by_chain_then_name(engine: Engine) -> None:
    store = Deployments(engine)
    with session_scope(engine) as session:
        assert deployment_rows(session) == []
    _record(store, 31337, "MeterRegistry", "0x" + "11" * 20)
    _record(store, 1, "EnergyPriceOracle", "0x" + "22" * 20)
    _record(store, 31337, "EnergyPriceOracle", "0x" + "33" * 20)
    _record(store, 31337, "MeterRegistry", "0x" + "44" * 20)  # redeployed: replaces the row
    _record(store, 1, "MeterRegistry", "0x" + "55" * 20)
    with session_scope(engine) as session:
        rows = deployment_rows(session)
    assert [(r.chain_id, r.name, r.address) for r in rows] == [
        (1, "EnergyPriceOracle", "0x" + "22" * 20),
        (1, "MeterRegistry", "0x" + "55" * 20),
        (31337, "EnergyPriceOracle", "0x" + "33" * 20),
        (31337, "MeterRegistry", "0x" + "44" * 20)]
    assert store.addresses(31337) == {"EnergyPriceOracle": "0x" + "33" * 20,
                                      "MeterRegistry": "0x" + "44" * 20}

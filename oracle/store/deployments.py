"""Where the contracts are: one row per (chain, contract name)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from oracle.store.engine import session_scope
from oracle.store.tables import ContractDeployment


class Deployments:
    """Contract addresses recorded by ``oracle contracts deploy`` (a DeploymentRecorder)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_deployment(self, *, chain_id: int, name: str, address: str, tx_hash: str,
                          block_number: int, artifact_sha256: str) -> None:
        """Record (or replace) where ``name`` lives on ``chain_id``."""
        with session_scope(self.engine) as session:
            session.merge(ContractDeployment(chain_id=chain_id, name=name, address=address,
                                             tx_hash=tx_hash, block_number=block_number,
                                             artifact_sha256=artifact_sha256))

    def addresses(self, chain_id: int) -> dict[str, str]:
        """Recorded deployments on ``chain_id``: name -> address."""
        with session_scope(self.engine) as session:
            rows = session.exec(select(ContractDeployment).where(
                ContractDeployment.chain_id == chain_id)).all()
            return {row.name: row.address for row in rows}


def deployment_rows(session: Session) -> list[ContractDeployment]:
    """Every recorded deployment, by chain id then name."""
    return list(session.exec(select(ContractDeployment).order_by(
        col(ContractDeployment.chain_id), col(ContractDeployment.name))).all())

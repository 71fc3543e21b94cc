"""The tx store: the outbox of reports, their signed attempts and the next nonce.

One ``Outbox`` serves one sending address on one chain (the chain layer's ``TxStore``).
Each method is one transaction, so a crash leaves either the old state or the new one.
Statuses are described in ``oracle/chain/txstore.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from oracle.store.deployments import Deployments
from oracle.store.engine import session_scope
from oracle.store.tables import ChainTransaction, NonceState, Report, utcnow

_LIVE = ("signed", "broadcast")


class Outbox:
    """Reports and attempts of ``address`` on ``chain_id``."""

    def __init__(self, engine: Engine, chain_id: int, address: str) -> None:
        self.engine = engine
        self._chain_id = chain_id
        self._address = address

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def address(self) -> str:
        return self._address

    def contract_addresses(self) -> dict[str, str]:
        return Deployments(self.engine).addresses(self._chain_id)

    # ------------------------------------------------------------------ reports

    def add_report(self, *, report_id: str, kind: str, contract: str, interval_start: datetime,
                   payload: dict[str, Any], payload_hash: str) -> bool:
        with session_scope(self.engine) as session:
            if session.get(Report, report_id) is not None:
                return False
            session.add(Report(report_id=report_id, kind=kind, contract=contract,
                               interval_start=interval_start, payload=payload,
                               payload_hash=payload_hash))
        return True

    def report(self, report_id: str) -> Report | None:
        with session_scope(self.engine) as session:
            return session.get(Report, report_id)

    def reports(self, status: str) -> Sequence[Report]:
        with session_scope(self.engine) as session:
            return session.exec(select(Report).where(Report.status == status).order_by(
                col(Report.created_at), col(Report.report_id))).all()

    def set_report(self, report_id: str, status: str, error: str | None = None) -> None:
        with session_scope(self.engine) as session:
            _set_report(session, report_id, status, error)

    # ------------------------------------------------------------------ attempts

    def _attempts(self) -> Any:
        return select(ChainTransaction).where(ChainTransaction.chain_id == self._chain_id,
                                              ChainTransaction.from_address == self._address)

    def attempts(self, *, report_id: str | None = None, statuses: Collection[str] | None = None,
                 nonce: int | None = None,
                 mined_above: int | None = None) -> Sequence[ChainTransaction]:
        query = self._attempts()
        if report_id is not None:
            query = query.where(ChainTransaction.report_id == report_id)
        if nonce is not None:
            query = query.where(ChainTransaction.nonce == nonce)
        if statuses is not None:
            query = query.where(col(ChainTransaction.status).in_(tuple(statuses)))
        if mined_above is not None:
            query = query.where(col(ChainTransaction.block_number) > mined_above)
        with session_scope(self.engine) as session:
            return session.exec(query.order_by(col(ChainTransaction.nonce),
                                               col(ChainTransaction.id))).all()

    def add_attempt(self, *, report_id: str, nonce: int, tx_hash: str, raw_tx: str,
                    to_address: str, max_fee: int, priority: int, gas_limit: int,
                    head: int) -> ChainTransaction:
        row = ChainTransaction(
            report_id=report_id, chain_id=self._chain_id, from_address=self._address,
            to_address=to_address, nonce=nonce, tx_hash=tx_hash, raw_tx=raw_tx,
            max_fee_per_gas=max_fee, max_priority_fee_per_gas=priority, gas_limit=gas_limit,
            broadcast_block=head)
        try:
            return self._insert_once(row)
        except IntegrityError:  # written meanwhile by another writer: that row is this attempt
            return self._insert_once(row)

    def _insert_once(self, row: ChainTransaction) -> ChainTransaction:
        with session_scope(self.engine) as session:
            known = session.exec(select(ChainTransaction).where(
                ChainTransaction.tx_hash == row.tx_hash)).first()
            if known is None:
                attempt = ChainTransaction.model_validate(row.model_dump())
                session.add(attempt)
                return attempt
            if known.status == "dropped":  # the same bytes again: one row, sendable again
                known.status, known.error, known.broadcast_block = "signed", None, row.broadcast_block
                session.add(known)
            return known

    def mark_broadcast(self, tx_hash: str, head: int) -> None:
        with session_scope(self.engine) as session:
            attempt = self._by_hash(session, tx_hash)
            self._replace_others(session, attempt, same_nonce=True)  # a fee bump took over
            if attempt.status == "signed" or attempt.broadcast_at is None:
                attempt.broadcast_at, attempt.broadcast_block = utcnow(), head
            if attempt.status in ("signed", "dropped", "replaced"):
                attempt.status, attempt.error = "broadcast", None
            session.add(attempt)
            report = session.get(Report, attempt.report_id)
            if report is not None and report.status == "pending":
                _set_report(session, attempt.report_id, "broadcast")
            self._write_nonce(session, attempt.nonce + 1, forward_only=True)

    def mark_mined(self, tx_hash: str, *, block_number: int, block_hash: str, gas_used: int,
                   effective_gas_price: int | None, confirmed: bool) -> None:
        self._in_block(tx_hash, "confirmed" if confirmed else "mined", None, block_number,
                       block_hash, gas_used, effective_gas_price)

    def mark_reverted(self, tx_hash: str, *, block_number: int, block_hash: str, gas_used: int,
                      effective_gas_price: int | None, error: str) -> None:
        self._in_block(tx_hash, "reverted", error[:1000], block_number, block_hash, gas_used,
                       effective_gas_price)

    def _in_block(self, tx_hash: str, status: str, error: str | None, block_number: int,
                  block_hash: str, gas_used: int, effective_gas_price: int | None) -> None:
        """The attempt is in a block (its nonce is used); a success moves its report on."""
        with session_scope(self.engine) as session:
            attempt = self._by_hash(session, tx_hash)
            # a success lands the report; a revert only uses up its own nonce
            self._replace_others(session, attempt, same_nonce=status == "reverted")
            attempt.status, attempt.error = status, error
            attempt.block_number, attempt.block_hash = block_number, block_hash
            attempt.gas_used, attempt.effective_gas_price = gas_used, effective_gas_price
            session.add(attempt)
            if status != "reverted":
                _set_report(session, attempt.report_id,
                            "confirmed" if status == "confirmed" else "broadcast")
            self._write_nonce(session, attempt.nonce + 1, forward_only=True)

    def mark_reorged(self, tx_hash: str) -> None:
        with session_scope(self.engine) as session:
            attempt = self._by_hash(session, tx_hash)
            attempt.status, attempt.block_number, attempt.block_hash = "broadcast", None, None
            attempt.gas_used = attempt.effective_gas_price = None
            session.add(attempt)
            _set_report(session, attempt.report_id, "broadcast")

    def drop_attempt(self, tx_hash: str, error: str) -> None:
        with session_scope(self.engine) as session:
            attempt = self._by_hash(session, tx_hash)
            attempt.status, attempt.error = "dropped", error[:1000]
            session.add(attempt)

    def release(self, report_id: str) -> None:
        with session_scope(self.engine) as session:
            for attempt in session.exec(self._attempts().where(
                    ChainTransaction.report_id == report_id,
                    col(ChainTransaction.status).in_(_LIVE))).all():
                attempt.status = "replaced"
                session.add(attempt)
            _set_report(session, report_id, "pending")

    # ------------------------------------------------------------------ nonce

    def next_nonce(self) -> int | None:
        with session_scope(self.engine) as session:
            state = session.get(NonceState, (self._chain_id, self._address))
            return state.next_nonce if state is not None else None

    def set_next_nonce(self, value: int) -> None:
        with session_scope(self.engine) as session:
            self._write_nonce(session, value, forward_only=False)

    def _write_nonce(self, session: Session, value: int, *, forward_only: bool) -> None:
        """Set the next nonce; ``forward_only``: never back (a sync is the tracker's call)."""
        state = session.get(NonceState, (self._chain_id, self._address))
        if state is None:
            session.add(NonceState(chain_id=self._chain_id, address=self._address,
                                   next_nonce=value))
        elif state.next_nonce < value or (not forward_only and state.next_nonce != value):
            state.next_nonce, state.updated_at = value, utcnow()
            session.add(state)

    def _replace_others(self, session: Session, attempt: ChainTransaction, *,
                        same_nonce: bool) -> None:
        """The report's other live attempts (at the same nonce) are out of the race."""
        query = self._attempts().where(ChainTransaction.report_id == attempt.report_id,
                                       col(ChainTransaction.status).in_(_LIVE),
                                       ChainTransaction.tx_hash != attempt.tx_hash)
        if same_nonce:
            query = query.where(ChainTransaction.nonce == attempt.nonce)
        for other in session.exec(query).all():
            other.status = "replaced"
            session.add(other)

    def _by_hash(self, session: Session, tx_hash: str) -> ChainTransaction:
        attempt = session.exec(select(ChainTransaction).where(
            ChainTransaction.tx_hash == tx_hash)).first()
        if attempt is None:
            raise KeyError(f"no attempt {tx_hash} in the outbox")
        return attempt


def _set_report(session: Session, report_id: str, status: str, error: str | None = None) -> None:
    report = session.get(Report, report_id)
    if report is not None:
        report.status, report.error, report.updated_at = status, error, utcnow()
        session.add(report)


# ------------------------------------------------------------------ across senders


def open_report_ids(session: Session) -> list[str]:
    """The ids of every report not yet confirmed or failed (any sender)."""
    return list(session.exec(select(Report.report_id).where(
        col(Report.status) != "confirmed", col(Report.status) != "failed")).all())


def reports_by_id(session: Session, report_ids: Collection[str]) -> list[Report]:
    """The reports among ``report_ids`` (unknown ids are left out), in no particular order."""
    return list(session.exec(select(Report).where(
        col(Report.report_id).in_(tuple(report_ids)))).all())


def confirmed_attempts(session: Session, report_ids: Collection[str]) -> list[ChainTransaction]:
    """The confirmed attempts of ``report_ids`` (any sender)."""
    return list(session.exec(select(ChainTransaction).where(
        col(ChainTransaction.report_id).in_(tuple(report_ids)),
        col(ChainTransaction.status) == "confirmed")).all())


def latest_attempt(session: Session, report_id: str) -> ChainTransaction | None:
    """The newest attempt of ``report_id`` (any sender, any status), or None."""
    return session.exec(select(ChainTransaction).where(
        col(ChainTransaction.report_id) == report_id)
        .order_by(col(ChainTransaction.id).desc())).first()

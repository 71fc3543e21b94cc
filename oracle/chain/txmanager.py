"""Transaction manager: outbox -> sign -> broadcast -> confirm, with fee bumps and reorg handling.

Public API (what the daemon calls)::

    txm = TxManager(w3, engine, account, settings.chain)
    txm.resync()          # on start: nonce from the chain, re-send what was in flight
    txm.queue(report_id, kind, "EnergyPriceOracle", "transmit", args, interval_start, payload)
    txm.tick()            # broadcast pending reports, check receipts, bump stuck ones, confirm
    txm.status(report_id) # pending / broadcast / confirmed / failed

The Chainlink way: ``queue`` writes the report (with its encoded calldata) to the outbox and is
idempotent on ``report_id``; every signed attempt is written before it is broadcast; the nonce
comes from the store and advances only after a successful broadcast. An attempt not mined after
``resend_after_blocks`` is replaced (same nonce) with fees bumped by ``fee_bump_percent``; a
receipt counts after ``confirmations`` blocks on top; an attempt re-orged out is re-broadcast
unchanged. A report is never given a second nonce unless its nonce was taken by another
transaction, so it lands at most once. ``tick`` raises ``RpcUnavailable`` when every endpoint is
down (state is kept; call it again later) and returns the reports that reverted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import ValidationError, keccak
from hexbytes import HexBytes
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from oracle.chain import fees as fee_market
from oracle.chain.artifacts import load_artifact
from oracle.chain.contracts import REVERT_ERRORS, addresses, translate_revert
from oracle.config import ChainSettings
from oracle.errors import ConfigError, NonceConflict, RpcUnavailable, TxReverted
from oracle.store.engine import session_scope
from oracle.store.tables import ChainTransaction, NonceState, Report, utcnow

log = logging.getLogger(__name__)

GAS_MARGIN = 1.25
IN_FLIGHT = ("broadcast", "replaced", "mined")


@dataclass
class TickSummary:
    """What one tick did."""

    broadcast: list[str] = field(default_factory=list)
    bumped: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    reorged: list[str] = field(default_factory=list)
    reverted: list[TxReverted] = field(default_factory=list)


def _rpc_message(err: Exception) -> str:
    message = getattr(err, "message", None) or (err.args[0] if err.args else str(err))
    if isinstance(message, dict):
        message = message.get("message", str(message))
    return str(message).lower()


def _already_known(err: Exception) -> bool:
    text = _rpc_message(err)
    return "already known" in text or "already imported" in text or "known transaction" in text


def _nonce_too_low(err: Exception) -> bool:
    text = _rpc_message(err)
    if "nonce too low" in text or ("nonce" in text and "lower than" in text):
        return True
    # py-evm: "Invalid transaction nonce: Expected 8, but got 7"
    found = re.search(r"nonce: expected (\d+), but got (\d+)", text)
    return found is not None and int(found.group(2)) < int(found.group(1))


class TxManager:
    """Land queued reports on chain exactly once; see the module docstring."""

    def __init__(self, w3: Web3, engine: Engine, account: LocalAccount,
                 settings: ChainSettings, contract_addresses: dict[str, str] | None = None) -> None:
        self.w3 = w3
        self.engine = engine
        self.account = account
        self.settings = settings
        self.chain_id = w3.eth.chain_id
        self._addresses = contract_addresses
        self._cap = int(settings.max_fee_per_gas_gwei * fee_market.GWEI)

    # ------------------------------------------------------------------ public

    def queue(self, report_id: str, kind: str, contract: str, fn_name: str, args: list[Any],
              interval_start: datetime, payload: dict[str, Any] | None = None) -> bool:
        """Write a report to the outbox; False (and nothing written) if it is already there."""
        known = self._addresses if self._addresses is not None else addresses(self.engine,
                                                                              self.chain_id)
        if contract not in known:
            raise ConfigError(f"contract {contract!r} has no address on chain {self.chain_id}: "
                              "run `oracle contracts deploy`", key="contract", value=contract)
        abi = load_artifact(contract).abi
        data = self.w3.eth.contract(abi=abi).encode_abi(fn_name, args=args)
        with session_scope(self.engine) as session:
            if session.get(Report, report_id) is not None:
                return False
            session.add(Report(
                report_id=report_id, kind=kind, contract=contract, interval_start=interval_start,
                payload={"to": known[contract], "fn": fn_name, "data": data,
                         "report": payload or {}},
                payload_hash=keccak(hexstr=data).hex()))
        return True

    def status(self, report_id: str) -> str | None:
        """The report's outbox status, or None when it was never queued."""
        with session_scope(self.engine) as session:
            report = session.get(Report, report_id)
            return report.status if report else None

    def tick(self) -> TickSummary:
        """One pass: receipts and reorgs, re-broadcasts, fee bumps, then new broadcasts."""
        summary = TickSummary()
        head = self.w3.eth.block_number
        self._check_receipts(head, summary)
        self._rebroadcast_signed()
        self._bump_stuck(head, summary)
        self._broadcast_pending(head, summary)
        return summary

    def resync(self) -> int:
        """Re-send what was in flight, then set the next nonce from the chain; returns it."""
        with session_scope(self.engine) as session:
            in_flight = session.exec(self._attempts().where(
                col(ChainTransaction.status).in_(("signed", "broadcast"))).order_by(
                    col(ChainTransaction.nonce))).all()
        for attempt in in_flight:
            if attempt.status == "broadcast":
                self._send_raw(attempt, quiet=True)
        self._rebroadcast_signed()
        chain_next = self.w3.eth.get_transaction_count(self.account.address, "pending")
        with session_scope(self.engine) as session:
            latest = session.exec(select(ChainTransaction.nonce).where(
                ChainTransaction.chain_id == self.chain_id,
                ChainTransaction.from_address == self.account.address,
                col(ChainTransaction.status).in_(("broadcast", "replaced"))).order_by(
                    col(ChainTransaction.nonce).desc())).first()
            next_nonce = max(chain_next, latest + 1 if latest is not None else 0)
            state = self._nonce_state(session)
            if state is not None and state.next_nonce != next_nonce:
                log.warning("nonce for %s resynced from %d to %d", self.account.address,
                            state.next_nonce, next_nonce)
            self._set_nonce(session, next_nonce)
        return next_nonce

    # ------------------------------------------------------------------ store helpers

    def _attempts(self) -> Any:
        return select(ChainTransaction).where(
            ChainTransaction.chain_id == self.chain_id,
            ChainTransaction.from_address == self.account.address)

    def _nonce_state(self, session: Session) -> NonceState | None:
        return session.get(NonceState, (self.chain_id, self.account.address))

    def _set_nonce(self, session: Session, value: int) -> None:
        state = self._nonce_state(session)
        if state is None:
            session.add(NonceState(chain_id=self.chain_id, address=self.account.address,
                                   next_nonce=value))
        else:
            state.next_nonce = value
            state.updated_at = utcnow()
            session.add(state)

    def _set_report(self, session: Session, report_id: str, status: str,
                    error: str | None = None) -> None:
        report = session.get(Report, report_id)
        if report is not None:
            report.status, report.error, report.updated_at = status, error, utcnow()
            session.add(report)

    # ------------------------------------------------------------------ receipts and reorgs

    def _receipt(self, tx_hash: str) -> Any:
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        block = self.w3.eth.get_block(receipt["blockNumber"])
        return receipt if block["hash"] == receipt["blockHash"] else None

    def _check_receipts(self, head: int, summary: TickSummary) -> None:
        with session_scope(self.engine) as session:
            attempts = session.exec(self._attempts().where(
                col(ChainTransaction.status).in_(IN_FLIGHT))).all()
        by_report: dict[str, list[ChainTransaction]] = {}
        for attempt in attempts:
            by_report.setdefault(attempt.report_id, []).append(attempt)
        for report_id, group in by_report.items():
            found = [(a, r) for a in group if (r := self._receipt(a.tx_hash)) is not None]
            if found:
                self._record_receipt(report_id, group, *found[0], head, summary)
            else:
                for attempt in group:
                    if attempt.status == "mined":
                        self._handle_reorg(attempt, summary)

    def _record_receipt(self, report_id: str, group: list[ChainTransaction],
                        attempt: ChainTransaction, receipt: Any, head: int,
                        summary: TickSummary) -> None:
        reverted = receipt["status"] != 1
        error = self._replay_reason(attempt, receipt) if reverted else None
        confirmed = head - receipt["blockNumber"] >= self.settings.confirmations
        with session_scope(self.engine) as session:
            for other in group:
                if other.id != attempt.id:
                    other.status = "replaced"
                    session.add(other)
            attempt.block_number = receipt["blockNumber"]
            attempt.block_hash = receipt["blockHash"].to_0x_hex()
            attempt.gas_used = receipt["gasUsed"]
            attempt.effective_gas_price = receipt.get("effectiveGasPrice")
            if reverted:
                attempt.status, attempt.error = "reverted", error.reason if error else None
                self._set_report(session, report_id, "failed", attempt.error)
            elif confirmed:
                attempt.status = "confirmed"
                self._set_report(session, report_id, "confirmed")
            else:
                attempt.status = "mined"
            session.add(attempt)
        if reverted and error is not None:
            log.error("report %s reverted: %s", report_id, error.reason)
            summary.reverted.append(error)
        elif confirmed:
            summary.confirmed.append(report_id)

    def _replay_reason(self, attempt: ChainTransaction, receipt: Any) -> TxReverted:
        """Re-run the reverted call on the parent block to read its reason."""
        tx = self.w3.eth.get_transaction(HexBytes(attempt.tx_hash))
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except REVERT_ERRORS as err:
            return translate_revert(err, attempt.tx_hash)
        return TxReverted(f"transaction {attempt.tx_hash} reverted", reason="unknown",
                          tx_hash=attempt.tx_hash)

    def _handle_reorg(self, attempt: ChainTransaction, summary: TickSummary) -> None:
        log.warning("report %s: transaction %s was re-orged out; re-sending it",
                    attempt.report_id, attempt.tx_hash)
        with session_scope(self.engine) as session:
            attempt.status, attempt.block_number, attempt.block_hash = "broadcast", None, None
            session.add(attempt)
        summary.reorged.append(attempt.report_id)
        self._send_raw(attempt, quiet=True)

    # ------------------------------------------------------------------ sending

    def _send_raw(self, attempt: ChainTransaction, *, quiet: bool = False) -> bool:
        """Broadcast a stored attempt; True when the node has it (or already had it)."""
        try:
            self.w3.eth.send_raw_transaction(HexBytes(attempt.raw_tx or "0x"))
        except Web3RPCError as err:
            if _already_known(err):
                return True
            if _nonce_too_low(err):
                return self._receipt(attempt.tx_hash) is not None
            if not quiet:
                raise
            log.warning("re-broadcast of %s refused: %s", attempt.tx_hash, _rpc_message(err))
            return False
        except (ValueError, ValidationError) as err:  # the in-process chain's own errors
            if quiet or _already_known(err) or _nonce_too_low(err):
                return self._receipt(attempt.tx_hash) is not None or _already_known(err)
            raise
        return True

    def _rebroadcast_signed(self) -> None:
        """Attempts written but never confirmed as broadcast (crash or node down)."""
        with session_scope(self.engine) as session:
            signed = session.exec(self._attempts().where(
                ChainTransaction.status == "signed").order_by(col(ChainTransaction.nonce))).all()
        head = self.w3.eth.block_number if signed else 0
        for attempt in signed:
            if self._send_raw(attempt, quiet=True):
                self._mark_broadcast(attempt, head)
            else:
                with session_scope(self.engine) as session:
                    attempt.status = "dropped"
                    session.add(attempt)

    def _mark_broadcast(self, attempt: ChainTransaction, head: int) -> None:
        with session_scope(self.engine) as session:
            for other in session.exec(self._attempts().where(
                    ChainTransaction.report_id == attempt.report_id,
                    ChainTransaction.status == "broadcast")).all():
                other.status = "replaced"
                session.add(other)
            attempt.status, attempt.broadcast_at, attempt.broadcast_block = "broadcast", utcnow(), head
            session.add(attempt)
            self._set_report(session, attempt.report_id, "broadcast")
            state = self._nonce_state(session)
            if state is None or state.next_nonce <= attempt.nonce:
                self._set_nonce(session, attempt.nonce + 1)

    def _sign(self, report: Report, nonce: int, gas: int, fees: fee_market.Fees,
              head: int) -> ChainTransaction:
        """Sign one attempt and write it to the store before it goes anywhere."""
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce,
              "to": report.payload["to"], "data": report.payload["data"], "value": 0,
              "gas": gas, "maxFeePerGas": fees.max_fee, "maxPriorityFeePerGas": fees.priority}
        signed = self.account.sign_transaction(tx)
        attempt = ChainTransaction(
            report_id=report.report_id, chain_id=self.chain_id, from_address=self.account.address,
            to_address=report.payload["to"], nonce=nonce, tx_hash=signed.hash.to_0x_hex(),
            raw_tx=signed.raw_transaction.to_0x_hex(), max_fee_per_gas=fees.max_fee,
            max_priority_fee_per_gas=fees.priority, gas_limit=gas, broadcast_block=head)
        with session_scope(self.engine) as session:
            session.add(attempt)
        return attempt

    def _broadcast(self, attempt: ChainTransaction, head: int) -> None:
        """Send a freshly signed attempt; the nonce advances only if the node accepted it."""
        try:
            ok = self._send_raw(attempt)
        except RpcUnavailable:
            raise  # the attempt stays 'signed'; the next tick re-sends the same bytes
        except (Web3RPCError, ValueError, ValidationError) as err:
            with session_scope(self.engine) as session:
                attempt.status, attempt.error = "dropped", _rpc_message(err)[:1000]
                session.add(attempt)
            if _nonce_too_low(err):
                self.resync()
                raise NonceConflict(f"nonce {attempt.nonce} of {self.account.address} was used by "
                                    "another transaction; resynced from the chain") from err
            log.error("report %s: broadcast refused: %s", attempt.report_id, _rpc_message(err))
            return
        if ok:
            self._mark_broadcast(attempt, head)

    def _broadcast_pending(self, head: int, summary: TickSummary) -> None:
        with session_scope(self.engine) as session:
            pending = session.exec(select(Report).where(Report.status == "pending").order_by(
                col(Report.created_at))).all()
            busy = set(session.exec(select(ChainTransaction.report_id).where(
                col(ChainTransaction.status).in_(("signed", *IN_FLIGHT)))).all())
        for report in pending:
            if report.report_id in busy:
                continue
            gas = self._estimate_gas(report, summary)
            if gas is None:
                continue
            with session_scope(self.engine) as session:
                state = self._nonce_state(session)
            nonce = state.next_nonce if state is not None else self.resync()
            fees = fee_market.estimate(self.w3, self._cap)
            attempt = self._sign(report, nonce, gas, fees, head)
            self._broadcast(attempt, head)
            summary.broadcast.append(report.report_id)

    def _estimate_gas(self, report: Report, summary: TickSummary) -> int | None:
        """Gas with a margin; a call that would revert fails the report without sending it."""
        call = {"from": self.account.address, "to": report.payload["to"],
                "data": report.payload["data"]}
        try:
            return int(self.w3.eth.estimate_gas(call) * GAS_MARGIN)  # type: ignore[arg-type]
        except REVERT_ERRORS as err:
            error = translate_revert(err)
            log.error("report %s would revert, not sent: %s", report.report_id, error.reason)
            with session_scope(self.engine) as session:
                self._set_report(session, report.report_id, "failed", error.reason)
            summary.reverted.append(error)
            return None

    def _bump_stuck(self, head: int, summary: TickSummary) -> None:
        with session_scope(self.engine) as session:
            stuck = session.exec(self._attempts().where(
                ChainTransaction.status == "broadcast",
                col(ChainTransaction.broadcast_block) <= head - self.settings.resend_after_blocks,
            )).all()
        for attempt in stuck:
            old = fee_market.Fees(attempt.max_fee_per_gas, attempt.max_priority_fee_per_gas)
            bumped = old.bumped(self.settings.fee_bump_percent, self._cap)
            market = fee_market.estimate(self.w3, self._cap)
            new = fee_market.Fees(max(bumped.max_fee, market.max_fee),
                                  min(max(bumped.priority, market.priority),
                                      max(bumped.max_fee, market.max_fee)))
            if new.max_fee <= old.max_fee:
                log.warning("report %s stuck at the fee cap (%d wei)", attempt.report_id,
                            self._cap)
                continue
            with session_scope(self.engine) as session:
                report = session.get(Report, attempt.report_id)
            if report is None:
                continue
            replacement = self._sign(report, attempt.nonce, attempt.gas_limit, new, head)
            self._broadcast(replacement, head)
            summary.bumped.append(attempt.report_id)

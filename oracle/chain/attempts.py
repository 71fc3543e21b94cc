"""One report's attempts: sign (written to the store before anything is sent), send, and ask
the chain where they stand. Shared by the broadcaster, the confirmer and the resender."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound

from oracle.chain import effects
from oracle.chain import fees as fee_market
from oracle.chain.rpc_errors import (
    REVERT_ERRORS,
    RpcErrorKind,
    classify,
    error_message,
    translate_revert,
)
from oracle.chain.txstore import (
    CONFIRMED,
    DROPPED,
    WATCHED,
    StoredAttempt,
    StoredReport,
    TxStore,
)
from oracle.config import ChainSettings
from oracle.errors import RpcUnavailable, TxReverted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """What the node said to a signed transaction (``kind`` None: accepted)."""

    kind: RpcErrorKind | None
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.kind in (None, RpcErrorKind.ALREADY_KNOWN)


@dataclass(frozen=True)
class Landing:
    """How a report is on chain: by one of its attempts (with the receipt), or by its effect."""

    attempt: StoredAttempt | None
    receipt: Any | None
    finding: effects.Finding | None = None

    @property
    def superseded(self) -> bool:
        return self.finding is not None and self.finding.effect is effects.Effect.SUPERSEDED


_ANSWERS = (RpcUnavailable, TransactionNotFound, BlockNotFound, *REVERT_ERRORS)


def read(call: Any, what: str) -> Any:
    """Run a read; a failure that is not the node's answer becomes ``RpcUnavailable``."""
    try:
        return call()
    except _ANSWERS:
        raise
    except Exception as err:
        if classify(err) in (RpcErrorKind.TRANSPORT, RpcErrorKind.UNKNOWN):
            raise RpcUnavailable(f"{what}: {error_message(err)}") from err
        raise


class Attempts:
    """Signing, sending and looking up attempts for ``account`` through ``store``."""

    def __init__(self, w3: Web3, store: TxStore, account: LocalAccount,
                 settings: ChainSettings) -> None:
        self.w3 = w3
        self.store = store
        self.account = account
        self.settings = settings
        self.chain_id = store.chain_id
        self.cap = int(settings.max_fee_per_gas_gwei * fee_market.GWEI)

    def head(self) -> int:
        return int(read(lambda: self.w3.eth.block_number, "block number"))

    def nonce_on_chain(self, block: str) -> int:
        """How many transactions of the key are in ``block`` ("latest") or the pool ("pending")."""
        return int(read(lambda: self.w3.eth.get_transaction_count(self.account.address,
                                                                  block),  # type: ignore[arg-type]
                        f"{block} nonce"))

    def market_fees(self) -> fee_market.Fees:
        return read(lambda: fee_market.estimate(self.w3, self.cap), "fee history")  # type: ignore[no-any-return]

    def sign(self, report: StoredReport, nonce: int, gas: int, fees: fee_market.Fees,
             head: int) -> StoredAttempt:
        """Sign one attempt and write it to the store before it goes anywhere."""
        tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce,
              "to": report.payload["to"], "data": report.payload["data"], "value": 0,
              "gas": gas, "maxFeePerGas": fees.max_fee, "maxPriorityFeePerGas": fees.priority}
        signed = self.account.sign_transaction(tx)
        return self.store.add_attempt(
            report_id=report.report_id, nonce=nonce, tx_hash=signed.hash.to_0x_hex(),
            raw_tx=signed.raw_transaction.to_0x_hex(), to_address=report.payload["to"],
            max_fee=fees.max_fee, priority=fees.priority, gas_limit=gas, head=head)

    def send(self, attempt: StoredAttempt) -> Sent:
        """Broadcast the stored bytes; every failure is classified, none raised."""
        try:
            self.w3.eth.send_raw_transaction(HexBytes(attempt.raw_tx or "0x"))
        except Exception as err:
            return Sent(classify(err), error_message(err))
        return Sent(None)

    def receipt(self, tx_hash: str) -> Any | None:
        """The receipt when the transaction is in a block of the canonical chain, else None."""
        try:
            receipt = read(lambda: self.w3.eth.get_transaction_receipt(HexBytes(tx_hash)),
                           "receipt")
        except TransactionNotFound:
            return None
        if receipt is None or receipt.get("blockNumber") is None:
            return None
        try:
            block = read(lambda: self.w3.eth.get_block(receipt["blockNumber"]), "block")
        except BlockNotFound:
            return None
        return receipt if block["hash"] == receipt["blockHash"] else None

    def landing(self, report: StoredReport) -> Landing | None:
        """Is the report on chain? One of its attempts mined successfully, else its effect
        (landed or superseded); None when it is not there and still can be. A refused
        attempt is looked up only when the chain has used its nonce (a node may have lied)."""
        latest: int | None = None
        for attempt in self.store.attempts(report_id=report.report_id,
                                           statuses=(*WATCHED, CONFIRMED, DROPPED)):
            if attempt.status == DROPPED:
                latest = self.nonce_on_chain("latest") if latest is None else latest
                if attempt.nonce >= latest:
                    continue
            receipt = self.receipt(attempt.tx_hash)
            if receipt is not None and receipt["status"] == 1:
                return Landing(attempt, receipt)
        finding = effects.find(self.w3, report)
        if finding.effect is effects.Effect.ABSENT:
            return None
        log.info("report %s: %s", report.report_id, finding.detail)
        return Landing(None, None, finding)

    def revert_reason(self, tx_hash: str, receipt: Any) -> TxReverted:
        """Re-run a mined, reverted transaction on its parent block to read its reason."""
        tx = read(lambda: self.w3.eth.get_transaction(HexBytes(tx_hash)), "transaction")
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)  # type: ignore[arg-type]
        except REVERT_ERRORS as err:
            return translate_revert(err, tx_hash)
        except Exception as err:
            if classify(err) is RpcErrorKind.EXECUTION_REVERTED:
                return translate_revert(err, tx_hash)
            raise RpcUnavailable(f"replaying {tx_hash}: {error_message(err)}") from err
        return TxReverted(f"transaction {tx_hash} reverted", reason="unknown", tx_hash=tx_hash)

"""What a node's error means: the one place that reads JSON-RPC error messages.

Nodes do not agree on error codes, only (roughly) on words. Every message the transaction
manager acts on is matched here, for hardhat (EDR), geth, erigon, nethermind, besu, openethereum
and the in-process py-evm chain; nowhere else in the code base matches error text. The patterns
come from those clients' sources (geth ``core/error.go`` and ``core/txpool/errors.go``, erigon's
``txpoolcfg.DiscardReason``, nethermind's ``AcceptTxResult``/``TxPoolErrorMessages``, besu's
``RpcErrorType``, hardhat's EDR) and from replies recorded from a hardhat node and py-evm.

    classify(err)          -> RpcErrorKind of any exception raised by a web3 call
    classify_message(text) -> RpcErrorKind of an error message
    retryable_reply(error) -> whether the RPC pool should ask again
    revert_reason(err)     -> the decoded reason of a reverted call or transaction
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

import requests
from eth_abi import decode
from eth_tester.exceptions import TransactionFailed
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    ProviderConnectionError,
    TimeExhausted,
)

from oracle.errors import RpcUnavailable, TxReverted


class RpcErrorKind(Enum):
    """What happens next, by what the node said."""

    NONCE_TOO_LOW = "nonce too low"  # the nonce is used on chain: mined? effect? else re-sign
    NONCE_TOO_HIGH = "nonce too high"  # a gap below this nonce: fill it or resync
    ALREADY_KNOWN = "already known"  # the node has these exact bytes: as good as accepted
    REPLACEMENT_UNDERPRICED = "replacement underpriced"  # another tx holds this nonce in the pool
    INSUFFICIENT_FUNDS = "insufficient funds"  # the key cannot pay: wait for funds, alert
    FEE_TOO_LOW = "fee too low"  # below the base fee or the pool's minimum: bump or wait
    EXECUTION_REVERTED = "execution reverted"  # the call or transaction reverted
    INVALID = "invalid"  # never acceptable as built (gas too low, bad signature, fee over cap)
    TRANSPORT = "transport"  # the node was not reached or its reply was lost: try again
    UNKNOWN = "unknown"  # anything else: the node may or may not have acted


_I = re.IGNORECASE
# Order matters: the first kind whose pattern matches wins ("replacement transaction
# underpriced" must not read as the pool's minimum fee, "authority nonce too low" is EIP-7702).
_PATTERNS: tuple[tuple[RpcErrorKind, re.Pattern[str]], ...] = (
    (RpcErrorKind.ALREADY_KNOWN, re.compile(
        r"already known"  # geth, erigon, nethermind >= 1.26
        r"|known transaction"  # geth < 1.10, besu "Known transaction", hardhat "Known transaction: 0x…"
        r"|\balreadyknown\b"  # nethermind AcceptTxResult.AlreadyKnown
        r"|already imported"  # openethereum "Transaction with the same hash was already imported."
        r"|existing txn? with same hash", _I)),  # erigon DiscardReason DuplicateHash
    (RpcErrorKind.REPLACEMENT_UNDERPRICED, re.compile(
        r"replacement transaction underpriced"  # geth, erigon, nethermind, besu, hardhat
        r"|replacementnotallowed|ownnoncealreadyused"  # nethermind
        r"|could not replace existing tx"  # erigon DiscardReason NotReplaced
        r"|another transaction with same nonce", _I)),  # openethereum
    (RpcErrorKind.NONCE_TOO_LOW, re.compile(
        r"(?<!authority )nonce too low"  # geth/erigon/nethermind, besu "Nonce too low", hardhat
        r"|\boldnonce\b"  # nethermind < 1.26
        r"|nonce is too low", _I)),  # openethereum "Transaction nonce is too low."
    (RpcErrorKind.NONCE_TOO_HIGH, re.compile(
        r"nonce too high"  # geth, erigon, nethermind, besu, hardhat
        r"|\bnoncegap\b|nonce too far in future"  # nethermind
        r"|nonce is too distant", _I)),  # besu NONCE_TOO_FAR_IN_FUTURE_FOR_SENDER
    (RpcErrorKind.INSUFFICIENT_FUNDS, re.compile(
        r"insufficient funds"  # geth "insufficient funds for gas * price + value", erigon
        r"|\binsufficientfunds\b"  # nethermind
        r"|insufficient balance"  # geth "insufficient balance for transfer", openethereum
        r"|upfront cost exceeds account balance"  # besu
        r"|doesn't have enough funds"  # hardhat "Sender doesn't have enough funds to send tx."
        r"|does not have enough balance|cannot afford txn gas"  # py-evm
        r"|would cause overdraft", _I)),  # geth (legacy)
    (RpcErrorKind.FEE_TOO_LOW, re.compile(
        r"transaction underpriced|\bunderpriced\b"  # geth, erigon DiscardReason UnderPriced
        r"|fee too low|\bfeetoolow(tocompete)?\b"  # erigon, nethermind
        r"|less than block base fee"  # geth "max fee per gas less than block base fee"
        r"|lower than block's base fee"  # py-evm
        r"|is too low for the next block"  # hardhat "Transaction maxFeePerGas (x) is too low…"
        r"|below (configured minimum gas price|current base fee)"  # besu
        r"|gas price is too low|gas price too low", _I)),  # openethereum, arbitrum
    (RpcErrorKind.EXECUTION_REVERTED, re.compile(
        r"execution reverted"  # geth, erigon, besu "Execution reverted"
        r"|vm exception while processing transaction"  # hardhat "…: reverted with reason string"
        r"|transaction reverted"  # hardhat "Transaction reverted without a reason string"
        r"|vm execution error", _I)),  # nethermind
    (RpcErrorKind.INVALID, re.compile(
        r"intrinsic gas too low|requires at least \d+ gas"  # geth/erigon, hardhat
        r"|intrinsic gas exceeds gas limit|exceeds (the )?block gas limit"  # besu, geth, hardhat
        r"|transaction exceeds gas limit"  # py-evm
        r"|gaslimitexceeded|invalid sender|invalid signature|oversized data|negative value"
        r"|gas uint64 overflow|sender not an eoa|senderiscontract"
        r"|max priority fee per gas (higher than|exceeds) max fee per gas"  # geth, besu
        r"|maxpriorityfeepergas \(\d+\) is bigger than maxfeepergas"  # hardhat
        r"|exceeds the configured cap|transaction fee cap exceeded"  # geth RPCTxFeeCap, besu
        r"|wrong chainid|invalid chain id", _I)),
    (RpcErrorKind.TRANSPORT, re.compile(
        r"\b50[234]\b.*(bad gateway|service unavailable|gateway time-?out)"
        r"|network is unreachable|connection refused|i/o timeout|timeout expired"
        r"|request timed out|rate limit|too many requests", _I)),
)
# py-evm says both directions in one sentence: "Invalid transaction nonce: Expected 8, but got 7".
_PYEVM_NONCE = re.compile(r"nonce: expected (\d+), but got (\d+)", _I)

_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.HTTPError,
                     ProviderConnectionError, ConnectionError, TimeoutError, TimeExhausted,
                     RpcUnavailable)
# The in-process eth-tester chain raises its own TransactionFailed instead of web3's errors.
REVERT_ERRORS = (ContractLogicError, ContractCustomError, ContractPanicError, TransactionFailed)


def rpc_error(err: BaseException) -> dict[str, Any]:
    """The JSON-RPC ``error`` object behind a web3 exception, or {} when there is none."""
    response = getattr(err, "rpc_response", None)
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        return dict(response["error"])
    first = err.args[0] if err.args else None
    return dict(first) if isinstance(first, dict) else {}


def error_message(err: BaseException, limit: int = 300) -> str:
    """The node's own words (or the exception's), on one line, at most ``limit`` characters."""
    body = rpc_error(err)
    text = body.get("message") if body else None
    if not isinstance(text, str):
        text = getattr(err, "message", None) or (str(err.args[0]) if err.args else str(err))
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def classify_message(message: str) -> RpcErrorKind:
    """The kind of a node's error message (case-insensitive; unknown words: UNKNOWN)."""
    pyevm = _PYEVM_NONCE.search(message)
    if pyevm:
        expected, got = int(pyevm.group(1)), int(pyevm.group(2))
        return RpcErrorKind.NONCE_TOO_LOW if got < expected else RpcErrorKind.NONCE_TOO_HIGH
    for kind, pattern in _PATTERNS:
        if pattern.search(message):
            return kind
    return RpcErrorKind.UNKNOWN


# JSON-RPC's own codes for a malformed or unsupported request: asking again changes nothing.
_REQUEST_ERRORS = (-32700, -32600, -32601, -32602)


def retryable_reply(error: dict[str, Any]) -> bool:
    """An error reply worth asking again (elsewhere): transient or unexplained, not a verdict."""
    if error.get("code") in _REQUEST_ERRORS:
        return False
    kind = classify_message(str(error.get("message", "")))
    return kind in (RpcErrorKind.UNKNOWN, RpcErrorKind.TRANSPORT)


def classify(err: BaseException) -> RpcErrorKind:
    """The kind of any exception a web3 call raised (type first, then the node's words)."""
    if isinstance(err, _TRANSPORT_ERRORS):
        return RpcErrorKind.TRANSPORT
    if isinstance(err, REVERT_ERRORS):
        return RpcErrorKind.EXECUTION_REVERTED
    return classify_message(error_message(err, limit=2000))


# ---------------------------------------------------------------- revert reasons

_ERROR_SELECTOR = bytes.fromhex("08c379a0")
_HARDHAT_REASON = re.compile(r"reverted with reason string '(.*)'")


def revert_reason(err: BaseException) -> str:
    """The human reason inside a revert error from web3 (Error(string), panic or custom)."""
    data = getattr(err, "data", None)
    if data is None:
        data = rpc_error(err).get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        raw = bytes.fromhex(data[2:])
        if raw[:4] == _ERROR_SELECTOR:
            try:
                return str(decode(["string"], raw[4:])[0])
            except Exception:  # malformed payload: fall back to the message
                pass
    message = error_message(err, limit=2000)
    quoted = _HARDHAT_REASON.search(message)
    if quoted:
        return quoted.group(1)
    return message.removeprefix("execution reverted: ").removeprefix("execution reverted")


def translate_revert(err: BaseException, tx_hash: str | None = None) -> TxReverted:
    """A TxReverted carrying the decoded reason."""
    reason = revert_reason(err) or "reverted without a reason"
    return TxReverted(f"transaction reverted: {reason}", reason=reason, tx_hash=tx_hash)

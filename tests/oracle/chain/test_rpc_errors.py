"""Error classification on the words real nodes use (hardhat and py-evm replies recorded here;
geth, erigon, nethermind, besu and openethereum strings from their sources)."""

from __future__ import annotations

import pytest
import requests
from eth_utils import ValidationError
from web3.exceptions import ContractLogicError, Web3RPCError

from oracle.chain.rpc_errors import (
    RpcErrorKind,
    classify,
    classify_message,
    error_message,
    retryable_reply,
    revert_reason,
)
from oracle.errors import RpcUnavailable

K = RpcErrorKind
MESSAGES = [
    # hardhat 2.29 (EDR), recorded
    ("hardhat", "Nonce too low. Expected nonce to be 1 but got 0. Note that transactions can't be "
                "queued when automining.", K.NONCE_TOO_LOW),
    ("hardhat", "Nonce too high. Expected nonce to be 1 but got 5. Note that transactions can't "
                "be queued when automining.", K.NONCE_TOO_HIGH),
    ("hardhat", "Known transaction: 0xdca764a2c678af3efc054e97d292f70619e5fc431ce5a01445b24aa749c"
                "566a0", K.ALREADY_KNOWN),
    ("hardhat", "Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least "
                "2200000000 is necessary to replace the existing transaction with nonce 1.",
     K.REPLACEMENT_UNDERPRICED),
    ("hardhat", "Sender doesn't have enough funds to send tx. The max upfront cost is: "
                "100000042000000000000 and the sender's balance is: 999962920267177000.",
     K.INSUFFICIENT_FUNDS),
    ("hardhat", "Transaction maxFeePerGas (1) is too low for the next block, which has a "
                "baseFeePerGas of 449064661", K.FEE_TOO_LOW),
    ("hardhat", "Error: Transaction reverted without a reason string", K.EXECUTION_REVERTED),
    ("hardhat", "VM Exception while processing transaction: reverted with reason string 'EPO: "
                "round not newer'", K.EXECUTION_REVERTED),
    ("hardhat", "Transaction requires at least 21000 gas but got 10", K.INVALID),
    ("hardhat", "maxPriorityFeePerGas (1000000000) is bigger than maxFeePerGas (1)", K.INVALID),
    # py-evm / eth-tester, recorded
    ("py-evm", "Invalid transaction nonce: Expected 1, but got 0", K.NONCE_TOO_LOW),
    ("py-evm", "Invalid transaction nonce: Expected 1, but got 3", K.NONCE_TOO_HIGH),
    ("py-evm", "Sender does not have enough balance to cover transaction value and gas  (has 9, "
               "needs 10)", K.INSUFFICIENT_FUNDS),
    ("py-evm", "Sender's max fee per gas (1) is lower than block's base fee per gas (670189612)",
     K.FEE_TOO_LOW),
    # geth (core/error.go, core/txpool/errors.go, with the wrapping it adds)
    ("geth", "nonce too low: address 0x5B38Da6a701c568545dCfcB03FcB875f56beddC4, tx: 5 state: 7",
     K.NONCE_TOO_LOW),
    ("geth", "nonce too high: address 0x5B38Da6a701c568545dCfcB03FcB875f56beddC4, tx: 9 state: 7",
     K.NONCE_TOO_HIGH),
    ("geth", "already known", K.ALREADY_KNOWN),
    ("geth", "known transaction: 3f1b4c", K.ALREADY_KNOWN),
    ("geth", "replacement transaction underpriced", K.REPLACEMENT_UNDERPRICED),
    ("geth", "transaction underpriced: tip needed 1, tip permitted 0", K.FEE_TOO_LOW),
    ("geth", "max fee per gas less than block base fee: address 0x1, maxFeePerGas: 1, "
             "baseFee: 7", K.FEE_TOO_LOW),
    ("geth", "insufficient funds for gas * price + value: balance 0, tx cost 1, overshot 1",
     K.INSUFFICIENT_FUNDS),
    ("geth", "execution reverted: EPO: round not newer", K.EXECUTION_REVERTED),
    ("geth", "intrinsic gas too low: gas 10, minimum needed 21000", K.INVALID),
    ("geth", "exceeds block gas limit", K.INVALID),
    ("geth", "tx fee (1.10 ether) exceeds the configured cap (1.00 ether)", K.INVALID),
    ("geth", "authority nonce too low", K.UNKNOWN),  # EIP-7702, not our nonce
    # erigon (txpoolcfg.DiscardReason)
    ("erigon", "nonce too low", K.NONCE_TOO_LOW),
    ("erigon", "fee too low", K.FEE_TOO_LOW),
    ("erigon", "underpriced", K.FEE_TOO_LOW),
    ("erigon", "insufficient funds", K.INSUFFICIENT_FUNDS),
    ("erigon", "existing txn with same hash", K.ALREADY_KNOWN),
    ("erigon", "could not replace existing tx", K.REPLACEMENT_UNDERPRICED),
    # nethermind (AcceptTxResult before 1.26, geth-style TxPoolErrorMessages after)
    ("nethermind", "OldNonce, Current nonce: 5, nonce of rejected tx: 3", K.NONCE_TOO_LOW),
    ("nethermind", "NonceGap, Future nonce. Expected nonce: 5", K.NONCE_TOO_HIGH),
    ("nethermind", "AlreadyKnown", K.ALREADY_KNOWN),
    ("nethermind", "OwnNonceAlreadyUsed", K.REPLACEMENT_UNDERPRICED),
    ("nethermind", "InsufficientFunds, Account balance: 0, cumulative cost: 21000",
     K.INSUFFICIENT_FUNDS),
    ("nethermind", "FeeTooLow, MaxFeePerGas too low. MaxFeePerGas: 1, BaseFee: 7, "
                   "MaxPriorityFeePerGas:1, Block number: 9", K.FEE_TOO_LOW),
    ("nethermind", "FeeTooLowToCompete", K.FEE_TOO_LOW),
    ("nethermind", "nonce too far in future", K.NONCE_TOO_HIGH),
    ("nethermind", "VM execution error.", K.EXECUTION_REVERTED),
    # besu (RpcErrorType)
    ("besu", "Nonce too low", K.NONCE_TOO_LOW),
    ("besu", "Nonce too high", K.NONCE_TOO_HIGH),
    ("besu", "Transaction nonce is too distant from current sender nonce", K.NONCE_TOO_HIGH),
    ("besu", "Known transaction", K.ALREADY_KNOWN),
    ("besu", "Replacement transaction underpriced", K.REPLACEMENT_UNDERPRICED),
    ("besu", "Upfront cost exceeds account balance", K.INSUFFICIENT_FUNDS),
    ("besu", "Gas price below configured minimum gas price", K.FEE_TOO_LOW),
    ("besu", "Gas price below current base fee", K.FEE_TOO_LOW),
    ("besu", "Execution reverted", K.EXECUTION_REVERTED),
    ("besu", "Intrinsic gas exceeds gas limit", K.INVALID),
    ("besu", "Transaction fee cap exceeded", K.INVALID),
    # openethereum
    ("openethereum", "Transaction nonce is too low. Try incrementing the nonce.",
     K.NONCE_TOO_LOW),
    ("openethereum", "Transaction with the same hash was already imported.", K.ALREADY_KNOWN),
    # gateways in front of nodes
    ("gateway", "503 Service Unavailable: upstream connect error", K.TRANSPORT),
    ("gateway", "rate limit exceeded", K.TRANSPORT),
    ("anything", "injected fault", K.UNKNOWN),
]


@pytest.mark.parametrize(("client", "message", "kind"), MESSAGES,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(MESSAGES)])
def test_each_client_message_is_read_as_what_it_means(client: str, message: str,
                                                      kind: RpcErrorKind) -> None:
    assert classify_message(message) is kind
    assert classify_message(message.upper() if client != "py-evm" else message) is kind


def _rpc_error(message: str, code: int = -32000, data: object = None) -> Web3RPCError:
    body = {"code": code, "message": message, "data": data}
    return Web3RPCError(str(body), rpc_response={"jsonrpc": "2.0", "id": 1, "error": body})


def test_web3_errors_are_classified_by_the_nodes_message_not_the_repr() -> None:
    err = _rpc_error("Nonce too low. Expected nonce to be 3 but got 2.")
    assert classify(err) is K.NONCE_TOO_LOW
    assert error_message(err) == "Nonce too low. Expected nonce to be 3 but got 2."
    assert classify(ValidationError("Invalid transaction nonce: Expected 8, but got 9")) \
        is K.NONCE_TOO_HIGH


def test_transport_failures_are_classified_by_type() -> None:
    for err in (requests.ConnectionError("reset"), requests.Timeout("slow"),
                RpcUnavailable("every RPC endpoint failed"), TimeoutError()):
        assert classify(err) is K.TRANSPORT
    assert classify(ContractLogicError("execution reverted: x")) is K.EXECUTION_REVERTED


def test_only_transient_or_unexplained_replies_are_asked_again() -> None:
    assert retryable_reply({"code": -32603, "message": "injected fault"})
    assert retryable_reply({"code": -32005, "message": "rate limit exceeded"})
    assert not retryable_reply({"code": -32601, "message": "the method eth_syncing does not exist"})
    assert not retryable_reply({"code": 3, "message": "execution reverted: EPO: round not newer"})
    assert not retryable_reply({"code": -32000, "message": "nonce too low"})


def test_revert_reasons_from_data_and_from_hardhat_words() -> None:
    data = ("0x08c379a0" + "20".rjust(64, "0") + "14".rjust(64, "0")
            + b"EPO: round not newer".hex().ljust(64, "0"))
    assert revert_reason(_rpc_error("execution reverted", 3, data)) == "EPO: round not newer"
    hardhat = _rpc_error("Error: VM Exception while processing transaction: reverted with "
                         "reason string 'AR: batch not newer'", -32603,
                         {"message": "…", "txHash": "0x1", "data": "0x"})
    assert revert_reason(hardhat) == "AR: batch not newer"


def test_messages_are_one_short_line() -> None:
    long = _rpc_error("nonce too low\n" + "x" * 5000)
    text = error_message(long)
    assert "\n" not in text and len(text) <= 300 and text.startswith("nonce too low")

"""Contract bindings and deployment (revert reasons are decoded in ``rpc_errors``).

Deployment is a one-off administrative step (``oracle contracts deploy``): it signs with the
oracle key, waits for each receipt and hands each address to a recorder (the store).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from oracle.chain.artifacts import load_artifact
from oracle.chain.encoding import feed_id, to_answer
from oracle.chain.rpc_errors import REVERT_ERRORS, revert_reason, translate_revert
from oracle.errors import ConfigError, TxReverted

log = logging.getLogger(__name__)

DEPLOYED = ("EnergyPriceOracle", "AnomalyRegistry", "GridOptimizationRegistry")
__all__ = ["DEPLOYED", "REVERT_ERRORS", "DeploymentRecorder", "FeedParams", "bind", "bind_deployed",
           "deploy_all", "revert_reason", "send", "translate_revert"]


class DeploymentRecorder(Protocol):
    """Where deployments are kept (the store's ``Deployments``); passed in, not imported."""

    def record_deployment(self, *, chain_id: int, name: str, address: str, tx_hash: str,
                          block_number: int, artifact_sha256: str) -> None: ...


def bind(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for ``name`` at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)


def bind_deployed(w3: Web3, known: Mapping[str, str], name: str) -> Contract:
    """The contract ``name`` at its recorded address (``known``: name -> address on this chain)."""
    if name not in known:
        raise ConfigError(f"contract {name!r} is not deployed on chain {w3.eth.chain_id}: run "
                          "`oracle contracts deploy`", key="contract", value=name)
    return bind(w3, name, known[name])


def send(w3: Web3, account: LocalAccount, call: Any, *, value: int = 0) -> Any:
    """Sign ``call`` (a contract function or constructor), send it and wait for the receipt."""
    try:
        tx = call.build_transaction({"from": account.address, "value": value,
                                     "nonce": w3.eth.get_transaction_count(account.address,
                                                                           "pending")})
    except REVERT_ERRORS as err:
        raise translate_revert(err) from err
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise TxReverted(f"transaction {tx_hash.hex()} reverted", tx_hash=tx_hash.to_0x_hex())
    return receipt


@dataclass(frozen=True)
class FeedParams:
    """Constructor arguments of a price feed: the immutable bounds and observation age."""

    zone: str
    description: str
    decimals: int
    min_price: float
    max_price: float
    max_observation_age_s: int


def deploy_all(w3: Web3, account: LocalAccount, recorder: DeploymentRecorder,
               feed: FeedParams) -> dict[str, str]:
    """Deploy the feed and both registries, authorise ``account``, hand each to ``recorder``."""
    chain_id = w3.eth.chain_id
    min_answer = to_answer(feed.min_price, feed.decimals, field="min_price")
    max_answer = to_answer(feed.max_price, feed.decimals, field="max_price")
    constructor_args: dict[str, list[Any]] = {
        "EnergyPriceOracle": [account.address, feed_id(feed.zone), feed.decimals,
                              feed.description, min_answer, max_answer,
                              feed.max_observation_age_s],
        "AnomalyRegistry": [account.address],
        "GridOptimizationRegistry": [account.address],
    }
    deployed: dict[str, str] = {}
    for name in DEPLOYED:
        artifact = load_artifact(name)
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = send(w3, account, factory.constructor(*constructor_args[name]))
        address = str(receipt["contractAddress"])
        deployed[name] = address
        recorder.record_deployment(chain_id=chain_id, name=name, address=address,
                                   tx_hash=receipt["transactionHash"].to_0x_hex(),
                                   block_number=receipt["blockNumber"],
                                   artifact_sha256=artifact.sha256)
        log.info("deployed %s at %s", name, address)
    feed_contract = bind(w3, "EnergyPriceOracle", deployed["EnergyPriceOracle"])
    send(w3, account, feed_contract.functions.setTransmitters([account.address]))
    send(w3, account, feed_contract.functions.setSigners([account.address], 1))
    for name in ("AnomalyRegistry", "GridOptimizationRegistry"):
        send(w3, account, bind(w3, name, deployed[name]).functions.setReporter(account.address,
                                                                               True))
    return deployed

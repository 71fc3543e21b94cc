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
from web3.exceptions import BadFunctionCallOutput

from oracle.chain.artifacts import load_artifact
from oracle.chain.encoding import feed_id, to_answer
from oracle.chain.rpc_errors import REVERT_ERRORS, revert_reason, translate_revert
from oracle.config import Settings
from oracle.errors import ConfigError, TxReverted

log = logging.getLogger(__name__)

DEPLOYED = ("EnergyPriceOracle", "AnomalyRegistry", "GridOptimizationRegistry")
__all__ = ["DEPLOYED", "PLANNING_HORIZON_S", "REVERT_ERRORS", "DeploymentRecorder", "FeedParams", "bind",
           "bind_deployed", "check_interval", "deploy_all", "deploy_params", "revert_reason", "send",
           "translate_revert"]
PLANNING_HORIZON_S = 86_400  # a schedule covers the next day: it starts at most a day ahead


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
    """What the deployment fixes for good: the feed's bounds and observation age, the interval
    that round and batch ids count in, and how far ahead a schedule may start."""

    zone: str
    description: str
    decimals: int
    min_price: float
    max_price: float
    max_observation_age_s: int
    interval_s: int = 3600
    planning_horizon_s: int = 86_400


def deploy_params(settings: Settings) -> FeedParams:
    """The one place deployment parameters come from settings (``oracle contracts deploy`` and
    the daemon's deploy-if-missing both use it). A report may land up to two heartbeats or two
    intervals, whichever is longer, after its observation; schedules start within a day."""
    p, interval_s = settings.pricing, settings.scheduler.interval_s
    return FeedParams(zone=p.zone, description=settings.chain.feed_description,
                      decimals=settings.chain.feed_decimals, min_price=p.floor, max_price=p.cap,
                      max_observation_age_s=2 * max(p.heartbeat_s, interval_s),
                      interval_s=interval_s, planning_horizon_s=PLANNING_HORIZON_S)


def _constructor_args(account: LocalAccount, feed: FeedParams) -> dict[str, list[Any]]:
    """Everything each contract needs, so one transaction per contract leaves it usable: the
    feed's signer set (quorum 1) and transmitter are ``account``, as are the registries'
    reporters."""
    me = [account.address]
    config = (feed_id(feed.zone), feed.decimals, feed.description,
              to_answer(feed.min_price, feed.decimals, field="min_price"),
              to_answer(feed.max_price, feed.decimals, field="max_price"),
              feed.max_observation_age_s, feed.interval_s)
    return {"EnergyPriceOracle": [account.address, config, me, 1, me],
            "AnomalyRegistry": [account.address, me, feed.interval_s],
            "GridOptimizationRegistry": [account.address, me, feed.planning_horizon_s]}


def deploy_all(w3: Web3, account: LocalAccount, recorder: DeploymentRecorder,
               feed: FeedParams) -> dict[str, str]:
    """Deploy the feed and both registries, one transaction each with ``account`` authorised,
    and hand each to ``recorder``."""
    chain_id = w3.eth.chain_id
    constructor_args = _constructor_args(account, feed)
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
    return deployed


def check_interval(w3: Web3, known: Mapping[str, str], interval_s: int) -> None:
    """ConfigError unless the recorded feed and anomaly registry (``known``: name -> address)
    count ids in ``interval_s`` seconds: with another interval every report would revert."""
    for name, getter in (("EnergyPriceOracle", "roundInterval"), ("AnomalyRegistry", "batchInterval")):
        if name not in known:
            continue
        try:
            deployed = int(getattr(bind(w3, name, known[name]).functions, getter)().call())
        except (*REVERT_ERRORS, BadFunctionCallOutput) as err:
            raise ConfigError(f"{name} at {known[name]} has no {getter}(): it predates this "
                              "version; run `oracle contracts deploy`", key="contract",
                              value=name) from err
        if deployed != interval_s:
            raise ConfigError(f"scheduler.interval_s is {interval_s} but {name} at {known[name]} "
                              f"counts ids in {deployed}-second intervals: set it back or run "
                              "`oracle contracts deploy`", key="scheduler.interval_s",
                              value=interval_s)

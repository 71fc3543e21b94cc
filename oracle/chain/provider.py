"""Web3 connections: several JSON-RPC URLs with failover, or the in-process py-evm chain.

Connection failures are translated here, and only here, into ``RpcUnavailable``.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ProviderConnectionError
from web3.providers import EthereumTesterProvider, HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse, Wei

from oracle.config import ChainSettings
from oracle.errors import ConfigError, RpcUnavailable

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, ProviderConnectionError,
                      ConnectionError, TimeoutError)


def _redact(url: str) -> str:
    """An RPC URL without credentials or API-key paths, for messages."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if rest else url


class FailoverProvider(JSONBaseProvider):
    """Try each endpoint in order, sticking to the last one that answered."""

    def __init__(self, urls: list[str], timeout_s: float) -> None:
        super().__init__()
        if not urls:
            raise ConfigError("setting 'chain.rpc_urls': give at least one URL",
                              key="chain.rpc_urls", value=urls)
        self.urls = list(urls)
        self._providers = [
            HTTPProvider(url, request_kwargs={"timeout": timeout_s},
                         exception_retry_configuration=None)
            for url in urls
        ]
        self._current = 0
        self._down: set[int] = set()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        errors = []
        for step in range(len(self._providers)):
            index = (self._current + step) % len(self._providers)
            try:
                response = self._providers[index].make_request(method, params)
            except _CONNECTION_ERRORS as err:
                if index not in self._down:
                    log.warning("rpc endpoint %s failing: %s", _redact(self.urls[index]),
                                type(err).__name__)
                    self._down.add(index)
                errors.append(f"{_redact(self.urls[index])}: {type(err).__name__}")
                continue
            except requests.HTTPError as err:
                errors.append(f"{_redact(self.urls[index])}: HTTP {err.response.status_code}"
                              if err.response is not None else str(err))
                continue
            if index in self._down:
                log.info("rpc endpoint %s recovered", _redact(self.urls[index]))
                self._down.discard(index)
            self._current = index
            return response
        raise RpcUnavailable(f"every RPC endpoint failed for {method}: {'; '.join(errors)}")

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except RpcUnavailable:
            return False
        return True


def connect(settings: ChainSettings) -> Web3:
    """A Web3 on the configured endpoints; the in-process py-evm chain when there are none."""
    if not settings.rpc_urls:
        return Web3(EthereumTesterProvider())
    w3 = Web3(FailoverProvider(settings.rpc_urls, settings.tx_timeout_s))
    chain_id = w3.eth.chain_id
    if settings.chain_id is not None and chain_id != settings.chain_id:
        raise ConfigError(f"setting 'chain.chain_id' = {settings.chain_id}: the node says "
                          f"{chain_id}", key="chain.chain_id", value=settings.chain_id)
    return w3


def is_dev_chain(w3: Web3) -> bool:
    """The in-process chain or a local hardhat/anvil node, whose dev accounts are unlocked."""
    return isinstance(w3.provider, EthereumTesterProvider) or w3.eth.chain_id == 31337


def fund_from_dev_account(w3: Web3, address: str, wei: int) -> None:
    """Send ``wei`` to ``address`` from the first unlocked dev account (dev chains only)."""
    if not is_dev_chain(w3):
        raise ConfigError("funding from a dev account needs the in-process chain or a local "
                          "hardhat node (chain id 31337)", key="chain.rpc_urls")
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": to_checksum_address(address),
                                  "value": Wei(wei)})
    w3.eth.wait_for_transaction_receipt(tx)

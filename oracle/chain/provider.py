"""Web3 connections: a pool of JSON-RPC endpoints with health, or the in-process py-evm chain.

The pool reads from the healthiest full endpoint: not syncing, at most ``max_head_lag_blocks``
behind the best head seen, fewer than ``max_rpc_failures`` failures in a row; ties go to the
order given. Signed transactions go to that endpoint and to every other one, send-only
endpoints included, so a failover finds them already known. Reads (and re-sending the same
signed bytes) are retried over the endpoints; a call that is not safe to repeat is not.
Connection failures are translated here, and only here, into ``RpcUnavailable``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ProviderConnectionError
from web3.providers import EthereumTesterProvider, HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse, Wei

from oracle.chain.rpc_errors import retryable_reply
from oracle.config import ChainSettings
from oracle.errors import ConfigError, RpcUnavailable

log = logging.getLogger(__name__)

_CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, requests.HTTPError,
                      ProviderConnectionError, ConnectionError, TimeoutError)
SEND_RAW = "eth_sendRawTransaction"
# Repeating these changes nothing on the node (reads, and the same signed bytes again).
_REPEATABLE_PREFIXES = ("eth_get", "eth_call", "eth_estimate", "eth_fee", "eth_block",
                        "eth_chain", "eth_gas", "eth_max", "eth_syncing", "net_", "web3_")


def _redact(url: str) -> str:
    """An RPC URL without credentials or API-key paths, for messages."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if rest else url


def _repeatable(method: str) -> bool:
    return method == SEND_RAW or method.startswith(_REPEATABLE_PREFIXES)


@dataclass
class Endpoint:
    """One JSON-RPC URL and what the pool knows of its health."""

    url: str
    provider: HTTPProvider
    send_only: bool = False
    failures: int = 0  # consecutive
    head: int | None = None
    syncing: bool = False
    lag: int = 0
    healthy: bool = True
    chain_id: Any = None  # as the endpoint said it (hex)

    @property
    def name(self) -> str:
        return _redact(self.url)


class RpcPool(JSONBaseProvider):
    """Several endpoints behind one web3 provider; see the module docstring."""

    def __init__(self, urls: list[str], *, send_only_urls: list[str] | None = None,
                 timeout_s: float = 120.0, max_head_lag_blocks: int = 5,
                 max_failures: int = 3, retries: int = 2, chain_id: int | None = None) -> None:
        super().__init__()
        if not urls:
            raise ConfigError("setting 'chain.rpc_urls': give at least one URL",
                              key="chain.rpc_urls", value=urls)

        def endpoint(url: str, send_only: bool) -> Endpoint:
            return Endpoint(url, HTTPProvider(url, request_kwargs={"timeout": timeout_s},
                                              exception_retry_configuration=None), send_only)

        self.endpoints = [endpoint(u, False) for u in urls]
        self.endpoints += [endpoint(u, True) for u in send_only_urls or []]
        self.max_head_lag_blocks = max_head_lag_blocks
        self.max_failures = max_failures
        self.retries = retries
        # the chain every endpoint must be on: as configured, else the first answer's
        self._chain_id: Any = hex(chain_id) if chain_id is not None else None
        self._chain_id_seen = False  # web3 asks per call: answered here once one endpoint has

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.endpoints if not e.send_only]

    # ------------------------------------------------------------------ health

    def probe(self) -> None:
        """Ask every full endpoint for its head and sync state; re-rank them. Send-only
        endpoints (which may answer nothing else) get another chance."""
        for ep in self.endpoints:
            if ep.send_only:
                ep.failures = 0
                self._judge(ep)
                continue
            try:
                if ep.chain_id is None:
                    ep.chain_id = self._call(ep, "eth_chainId", [])
                head = self._call(ep, "eth_blockNumber", [])
            except (RpcUnavailable, ValueError):
                continue
            try:
                syncing = self._call(ep, "eth_syncing", [])
            except (RpcUnavailable, ValueError):  # not every node serves it
                syncing = False
            ep.head, ep.syncing, ep.failures = int(str(head), 16), syncing not in (False, None), 0
        heads = [ep.head for ep in self._full() if ep.head is not None and ep.failures == 0]
        best = max(heads, default=0)
        for ep in self._full():
            ep.lag = best - ep.head if ep.head is not None else 0
            self._judge(ep)

    def _judge(self, ep: Endpoint) -> None:
        """Healthy or not, logged once on each change."""
        reasons = []
        if self._wrong_chain(ep):  # never used again
            reasons.append(f"on chain {ep.chain_id}, not {self._chain_id}")
        if ep.failures >= self.max_failures:
            reasons.append(f"{ep.failures} failures in a row")
        if ep.syncing:
            reasons.append("syncing")
        if ep.lag > self.max_head_lag_blocks:
            reasons.append(f"head {ep.lag} blocks behind")
        healthy = not reasons
        if healthy != ep.healthy:
            if healthy:
                log.info("rpc endpoint %s healthy again", ep.name)
            else:
                log.warning("rpc endpoint %s unhealthy: %s", ep.name, ", ".join(reasons))
        ep.healthy = healthy

    def ranked(self) -> list[Endpoint]:
        """Full endpoints on our chain, healthiest first (ties: the configured order)."""
        order = {id(ep): i for i, ep in enumerate(self.endpoints)}
        usable = [ep for ep in self._full() if not self._wrong_chain(ep)]
        return sorted(usable, key=lambda ep: (not ep.healthy, ep.lag, ep.failures,
                                              order[id(ep)]))

    def _wrong_chain(self, ep: Endpoint) -> bool:
        return (self._chain_id is not None and ep.chain_id is not None
                and int(str(ep.chain_id), 16) != int(str(self._chain_id), 16))

    def _full(self) -> list[Endpoint]:
        return [ep for ep in self.endpoints if not ep.send_only]

    # ------------------------------------------------------------------ requests

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method == SEND_RAW:
            return self._send_everywhere(method, params)
        if method == "eth_chainId" and self._chain_id_seen:
            return {"jsonrpc": "2.0", "id": 0, "result": self._chain_id}
        repeatable = _repeatable(method)
        reply = self._first_answer(method, params, self.ranked(),
                                   self.retries + 1 if repeatable else 1, repeatable)[0]
        if method == "eth_chainId" and "result" in reply and (
                self._chain_id is None or int(str(reply["result"]), 16) == int(self._chain_id, 16)):
            self._chain_id, self._chain_id_seen = reply["result"], True
        return reply

    def _first_answer(self, method: str, params: Any, endpoints: list[Endpoint], rounds: int,
                      retry_errors: bool) -> tuple[RPCResponse, Endpoint | None]:
        """The first reply that is not a transport failure (nor, for reads, a transient error)."""
        failures: list[str] = []
        error_reply: RPCResponse | None = None
        for _ in range(rounds):
            for ep in endpoints:
                try:
                    response = ep.provider.make_request(RPCEndpoint(method), params)
                except _CONNECTION_ERRORS as err:
                    self._failed(ep)
                    failures.append(f"{ep.name}: {type(err).__name__}")
                    continue
                error = response.get("error")
                if retry_errors and isinstance(error, dict) and retryable_reply(dict(error)):
                    self._failed(ep)
                    failures.append(f"{ep.name}: {str(error.get('message'))[:120]}")
                    error_reply = response
                    continue
                self._answered(ep)
                return response, ep
        if error_reply is not None:
            return error_reply, None  # web3 raises it as the node's error
        raise RpcUnavailable(f"every RPC endpoint failed for {method}: "
                             f"{'; '.join(dict.fromkeys(failures))}")

    def _send_everywhere(self, method: str, params: Any) -> RPCResponse:
        """The best endpoint's reply; the other healthy ones get the same bytes, best effort."""
        reply, answered = self._first_answer(method, params, self.ranked(), self.retries + 1,
                                             False)
        for ep in self.endpoints:
            if ep is answered or not ep.healthy:
                continue
            try:
                ep.provider.make_request(RPCEndpoint(method), params)
            except _CONNECTION_ERRORS as err:
                self._failed(ep)
                log.debug("rpc endpoint %s did not take the transaction: %s", ep.name,
                          type(err).__name__)
        return reply

    def _call(self, ep: Endpoint, method: str, params: list[Any]) -> Any:
        """One call to one endpoint, for its health check."""
        try:
            response = ep.provider.make_request(RPCEndpoint(method), params)
        except _CONNECTION_ERRORS as err:
            self._failed(ep)
            raise RpcUnavailable(f"{ep.name}: {type(err).__name__}") from err
        if "error" in response:
            raise ValueError(str(response["error"])[:200])
        return response.get("result")

    def _failed(self, ep: Endpoint) -> None:
        ep.failures += 1
        self._judge(ep)

    def _answered(self, ep: Endpoint) -> None:
        if ep.failures:
            ep.failures = 0
            self._judge(ep)

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
        except RpcUnavailable:
            return False
        return True


def connect(settings: ChainSettings) -> Web3:
    """A Web3 on the configured endpoints; the in-process py-evm chain when there are none."""
    if not settings.rpc_urls:
        if settings.send_only_urls:
            raise ConfigError("setting 'chain.send_only_urls' needs at least one of "
                              "'chain.rpc_urls' to read from", key="chain.send_only_urls",
                              value=settings.send_only_urls)
        return Web3(EmbeddedChainProvider())
    pool = RpcPool(settings.rpc_urls, send_only_urls=settings.send_only_urls,
                   timeout_s=settings.tx_timeout_s,
                   max_head_lag_blocks=settings.max_head_lag_blocks,
                   max_failures=settings.max_rpc_failures, retries=settings.rpc_retries,
                   chain_id=settings.chain_id)
    pool.probe()  # learns each endpoint's chain and head
    if settings.chain_id is not None and not pool.ranked():
        said = sorted({int(str(ep.chain_id), 16) for ep in pool.endpoints if ep.chain_id})
        raise ConfigError(f"setting 'chain.chain_id' = {settings.chain_id}: the nodes say "
                          f"{', '.join(map(str, said)) or 'nothing'}", key="chain.chain_id",
                          value=settings.chain_id)
    w3 = Web3(pool)
    _ = w3.eth.chain_id  # the first endpoint to answer sets it when it is not configured
    return w3


class EmbeddedChainProvider(EthereumTesterProvider):
    """The in-process py-evm chain, its block clock kept with the wall clock.

    eth-tester stamps the next block with the time the previous one was mined, so after a quiet
    spell (a tick every few minutes) a report lands in a block whose timestamp is minutes old, and
    a contract that bounds a report's time by ``block.timestamp`` refuses it ("observation in the
    future", "detection in the future"). A real chain mines every few seconds. So before every
    call that runs or sends a transaction, the pending block is moved to ``clock()`` when it has
    fallen behind; it is never moved back (a test's own time travel ahead stays).
    """

    CLOCKED = frozenset({"eth_sendRawTransaction", "eth_sendTransaction", "eth_call",
                         "eth_estimateGas"})

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if method in self.CLOCKED:
            self.keep_time()
        return super().make_request(method, params)

    def keep_time(self) -> None:
        """Move the pending block's timestamp up to the clock, if it is behind."""
        tester = self.ethereum_tester
        assert tester is not None  # set by EthereumTesterProvider's constructor
        now = int(self.clock())
        if now > int(tester.get_block_by_number("pending")["timestamp"]):
            tester.time_travel(now)


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

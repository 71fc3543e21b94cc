"""The RPC pool against small JSON-RPC servers on loopback: health (head lag, syncing,
failures in a row, wrong chain), the healthiest used, send-only endpoints, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from web3 import Web3

from oracle.chain.provider import RpcPool
from oracle.errors import RpcUnavailable


class Stub:
    """A node that answers a few methods from its fields and records what it was asked."""

    def __init__(self, head: int = 100, chain_id: int = 31337) -> None:
        self.head, self.chain_id, self.syncing = head, chain_id, False
        self.errors: dict[str, dict[str, Any]] = {}  # method -> JSON-RPC error to answer
        self.asked: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.asked.append(request["method"])
                body = {"jsonrpc": "2.0", "id": request["id"], **stub.answer(request)}
                payload = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request["method"]
        if method in self.errors:
            return {"error": self.errors[method]}
        results = {"eth_chainId": hex(self.chain_id), "eth_blockNumber": hex(self.head),
                   "eth_syncing": {"currentBlock": "0x1"} if self.syncing else False,
                   "eth_sendRawTransaction": "0x" + "11" * 32, "eth_gasPrice": "0x1"}
        return {"result": results.get(method)}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stubs() -> Iterator[list[Stub]]:
    made: list[Stub] = []
    yield made
    for stub in made:
        stub.stop()


def _pool(stubs: list[Stub], *nodes: Stub, send_only: tuple[Stub, ...] = (),
          **kwargs: Any) -> tuple[RpcPool, Web3]:
    stubs.extend([*nodes, *send_only])
    pool = RpcPool([n.url for n in nodes], send_only_urls=[n.url for n in send_only],
                   timeout_s=2, chain_id=31337, **kwargs)
    pool.probe()
    w3 = Web3(pool)
    assert w3.eth.chain_id == 31337
    return pool, w3


def test_the_healthiest_endpoint_is_read_from(stubs: list[Stub]) -> None:
    syncing, behind, good = Stub(head=100), Stub(head=90), Stub(head=100)
    syncing.syncing = True
    pool, w3 = _pool(stubs, syncing, behind, good, max_head_lag_blocks=5)
    assert [ep.url for ep in pool.ranked()] == [good.url, syncing.url, behind.url]
    assert [ep.healthy for ep in pool.endpoints] == [False, False, True]
    assert w3.eth.gas_price == 1 and good.asked[-1] == "eth_gasPrice"
    syncing.syncing = False
    pool.probe()
    assert pool.ranked()[0].url == syncing.url  # healthy again: the configured order wins


def test_a_failing_endpoint_loses_its_place_until_a_health_check_passes(
        stubs: list[Stub]) -> None:
    first, second = Stub(), Stub()
    pool, w3 = _pool(stubs, first, second, max_failures=2, retries=0)
    first.errors["eth_gasPrice"] = {"code": -32603, "message": "internal error"}
    for _ in range(3):
        assert w3.eth.gas_price == 1  # answered by the second
    assert first.asked.count("eth_gasPrice") == 1  # fewer failures rank first
    assert pool.ranked()[0].url == second.url and pool.endpoints[0].failures == 1
    pool.endpoints[1].failures = 5  # the second fails too (more often): back to the first
    first.errors["eth_gasPrice"]["message"] = "still broken"
    assert w3.eth.gas_price == 1 and pool.endpoints[0].failures == 2
    assert not pool.endpoints[0].healthy  # max_failures in a row
    first.errors.clear()
    pool.probe()  # it answers again
    assert pool.endpoints[0].healthy and pool.ranked()[0].url == first.url


def test_signed_transactions_go_everywhere_and_send_only_endpoints_get_nothing_else(
        stubs: list[Stub]) -> None:
    main, other, relay = Stub(), Stub(), Stub()
    _, w3 = _pool(stubs, main, other, send_only=(relay,))
    w3.eth.send_raw_transaction(b"\x02")
    assert "eth_sendRawTransaction" in main.asked and "eth_sendRawTransaction" in other.asked
    assert relay.asked == ["eth_sendRawTransaction"]


def test_an_endpoint_on_another_chain_is_never_used(stubs: list[Stub]) -> None:
    ours, stranger = Stub(), Stub(chain_id=1)
    pool, w3 = _pool(stubs, stranger, ours)  # even when listed first
    assert [ep.url for ep in pool.ranked()] == [ours.url]
    before = len(stranger.asked)
    w3.eth.send_raw_transaction(b"\x02")
    assert w3.eth.gas_price == 1 and len(stranger.asked) == before


def test_a_verdict_is_not_asked_again_and_everything_down_is_rpc_unavailable(
        stubs: list[Stub]) -> None:
    node = Stub()
    _, w3 = _pool(stubs, node, retries=3)
    node.errors["eth_gasPrice"] = {"code": 3, "message": "execution reverted: nope"}
    with pytest.raises(Exception, match="execution reverted"):
        _ = w3.eth.gas_price
    assert node.asked.count("eth_gasPrice") == 1
    node.stop()
    stubs.remove(node)
    with pytest.raises(RpcUnavailable, match="every RPC endpoint failed for eth_blockNumber"):
        _ = w3.eth.block_number

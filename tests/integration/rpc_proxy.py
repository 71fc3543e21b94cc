"""A fault-injecting JSON-RPC proxy: a real HTTP server on 127.0.0.1 in front of a node.

Each call can be dropped (connection closed, never forwarded), delayed, answered with an error
(never forwarded), duplicated (forwarded twice, the second reply returned), or forwarded and
then lose its reply (connection closed) or have it replaced by an error. Faults are scripted
per method and per call number, or drawn at random from a seeded generator::

    with RpcProxy(node_url) as proxy:
        proxy.add("lose_reply", "eth_sendRawTransaction", calls={1})  # the 1st send only
        proxy.add("error", "eth_getTransactionReceipt", times=2)       # the next two receipts
        proxy.chaos(0.2, seed=7)                                       # 20% of all calls
        ... proxy.url ...
    proxy.injected  # Counter of (action, method)
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

ACTIONS = ("drop", "delay", "error", "duplicate", "lose_reply", "error_after")
FORWARDED = {"delay", "duplicate", "lose_reply", "error_after"}  # the node sees these calls


@dataclass
class Rule:
    action: str
    method: str | None = None  # None: every method
    calls: Collection[int] | None = None  # 1-based call numbers of ``method``; None: any
    times: int | None = None  # at most this many faults; None: no limit
    delay_s: float = 0.5
    message: str = "injected fault"

    def matches(self, method: str, number: int) -> bool:
        return ((self.method is None or self.method == method)
                and (self.calls is None or number in self.calls)
                and (self.times is None or self.times > 0))


@dataclass
class Chaos:
    rate: float
    actions: Sequence[str]
    rng: random.Random
    methods: Collection[str] | None
    delay_s: float


class RpcProxy:
    """See the module docstring. ``upstream`` may be changed while running."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self._chaos: Chaos | None = None
        self.calls: Counter[str] = Counter()
        self.injected: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RpcProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    # ------------------------------------------------------------------ scripting

    def add(self, action: str, method: str | None = None, *, calls: Collection[int] | None = None,
            times: int | None = None, delay_s: float = 0.5,
            message: str = "injected fault") -> Rule:
        """Script a fault; the first matching rule wins."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")
        rule = Rule(action, method, calls, times, delay_s, message)
        with self._lock:
            self.rules.append(rule)
        return rule

    def chaos(self, rate: float, *, seed: int, actions: Sequence[str] = ACTIONS,
              methods: Collection[str] | None = None, delay_s: float = 0.3) -> None:
        """Fault ``rate`` of the calls (of ``methods``), the action drawn from ``actions``."""
        with self._lock:
            self._chaos = Chaos(rate, tuple(actions), random.Random(seed), methods, delay_s)

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self._chaos = None

    def decide(self, method: str) -> Rule | None:
        """The fault for this call, if any (counts the call)."""
        with self._lock:
            self.calls[method] += 1
            number = self.calls[method]
            for rule in self.rules:
                if rule.matches(method, number):
                    if rule.times is not None:
                        rule.times -= 1
                    self.injected[(rule.action, method)] += 1
                    return rule
            chaos = self._chaos
            if chaos is not None and (chaos.methods is None or method in chaos.methods) \
                    and chaos.rng.random() < chaos.rate:
                action = chaos.rng.choice(list(chaos.actions))
                self.injected[(action, method)] += 1
                return Rule(action, method, delay_s=chaos.delay_s)
        return None

    def forward(self, body: bytes) -> bytes:
        reply = self._client.post(self.upstream, content=body,
                                  headers={"Content-Type": "application/json"})
        return reply.content


def _handler(proxy: RpcProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                request = json.loads(body)
            except ValueError:
                request = {}
            method = request.get("method", "batch") if isinstance(request, dict) else "batch"
            rule = proxy.decide(method)
            action = rule.action if rule else None
            if action == "drop":
                return self._hang_up()
            if action == "delay" and rule is not None:
                time.sleep(rule.delay_s)
            if action == "error" and rule is not None:
                return self._reply(_error(request, rule.message))
            try:
                reply = proxy.forward(body)
                if action == "duplicate":
                    reply = proxy.forward(body)
            except httpx.HTTPError:
                return self._hang_up()  # the node is down: so is the proxy, for the client
            if action == "lose_reply":
                return self._hang_up()
            if action == "error_after" and rule is not None:
                return self._reply(_error(request, rule.message))
            self._reply(reply)

        def _reply(self, payload: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _hang_up(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


def _error(request: Any, message: str) -> bytes:
    request_id = request.get("id") if isinstance(request, dict) else None
    return json.dumps({"jsonrpc": "2.0", "id": request_id,
                       "error": {"code": -32603, "message": message}}).encode()

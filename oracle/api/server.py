"""The HTTP server of ``oracle serve`` and ``oracle run``: uvicorn (h11) on a socket bound first.

Binding before anything else starts means a taken port ends the process at once with one
line (``ListenFailed``, exit 1) instead of a daemon running without its API. A connection must
send its complete request head within ``api.header_timeout_s`` (uvicorn has no such deadline;
its keep-alive timer only runs between requests); the body's deadline is the request guard's.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from oracle.config import ApiSettings
from oracle.errors import ListenFailed

MAX_HEAD_BYTES = 16 * 1024  # request line and headers (h11's incomplete-event limit)
KEEP_ALIVE_S = 5
START_TIMEOUT_S = 60.0


class HeadDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head is not complete within
    ``header_timeout_s`` of its first byte (or of the connection, for the first request)."""

    header_timeout_s = 5.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        if self._head_timer is None and (before is None or before.response_complete):
            self._arm()
        super().data_received(data)
        if self.cycle is not before:  # a complete head started a new request
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timeout)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def bind(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound now; a taken or forbidden address is ListenFailed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ListenFailed(f"the API cannot listen on {host}:{port} (api.host, api.port): "
                           f"{err.strerror or err}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        raise ListenFailed(f"the API cannot listen on {host}:{port} (api.host, api.port): "
                           f"{err.strerror or err}") from None
    sock.setblocking(False)
    return sock


def make_server(app: Any, limits: ApiSettings) -> uvicorn.Server:
    """uvicorn with the head deadline; logging stays ours (``oracle.logs``)."""
    protocol = type("HeadDeadlineProtocol", (HeadDeadlineProtocol,),
                    {"header_timeout_s": limits.header_timeout_s})
    config = uvicorn.Config(app, http=protocol, log_config=None, access_log=False,
                            timeout_keep_alive=KEEP_ALIVE_S,
                            h11_max_incomplete_event_size=MAX_HEAD_BYTES)
    return uvicorn.Server(config)


def serve_forever(app: Any, sock: socket.socket, limits: ApiSettings) -> None:
    """Serve in the foreground until SIGTERM/SIGINT."""
    gc.freeze()  # start-up objects leave the collector's scans: shorter pauses under load
    make_server(app, limits).run(sockets=[sock])


def serve_in_thread(app: Any, sock: socket.socket, limits: ApiSettings) -> uvicorn.Server:
    """Serve from a daemon thread; returns once the server is up (ListenFailed if it died)."""
    server = make_server(app, limits)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ListenFailed("the API server did not start (see the log above)")
        time.sleep(0.02)
    return server

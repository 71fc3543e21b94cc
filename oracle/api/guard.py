"""ASGI middleware in front of routing: bearer token, body size, read deadline, JSON nesting.

- with a token set, a POST (every model endpoint) without it is a 401 before its body is read,
  so a client without credentials cannot make the server parse anything;
- a body over ``max_bytes`` (declared in Content-Length or streamed) is a JSON 413 naming the
  limit, sent before the rest is read, and the connection is closed;
- a body that has not fully arrived within ``body_timeout_s`` (a client that announces a large
  Content-Length and idles) is a 408, and the connection is closed;
- a body nested deeper than ``max_json_depth`` is a 422, before any JSON decoder sees it.

The body is buffered (at most ``max_bytes``) and replayed to the app.
"""

from __future__ import annotations

import asyncio
import hmac
import json

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oracle.jsonsafe import MAX_DEPTH, nesting_depth

SCAN_IN_THREAD = 256 * 1024  # bodies larger than this are scanned off the event loop


def _replay(message: Message, receive: Receive) -> Receive:
    pending = [message]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def token_matches(given: str, token: str) -> bool:
    """Constant-time comparison of a presented bearer token with the configured one."""
    return hmac.compare_digest(given.encode(), token.encode())


def _bearer(headers: dict[bytes, bytes]) -> str:
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class RequestGuard:
    """Refuses unauthenticated, oversized, slow and too deeply nested requests (module doc)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_json_depth: int = MAX_DEPTH,
                 body_timeout_s: float = 10.0, token: str | None = None,
                 open_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.open_paths = open_paths  # prefixes whose POSTs carry their own signature
        self.max_bytes = max_bytes
        self.max_json_depth = max_json_depth
        self.body_timeout_s = body_timeout_s
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self.token is not None and scope.get("method") == "POST" and \
                not str(scope.get("path", "")).startswith(self.open_paths) and \
                not token_matches(_bearer(headers), self.token):
            await _refuse(send, 401, "unauthorized", "missing or wrong bearer token",
                          loc=["header", "authorization"],
                          extra=[(b"www-authenticate", b"Bearer")])
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        chunks: list[bytes] = []
        seen = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                await _refuse(send, 408, "too_slow", f"the request body did not arrive within "
                              f"{self.body_timeout_s:g} s (api.body_timeout_s)")
                return
            if message["type"] != "http.request":  # client went away: let the app see it
                await self.app(scope, _replay(message, receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and await self._too_deep(body):
            await _refuse(send, 422, "json_too_deep", f"the JSON body is nested deeper than "
                          f"{self.max_json_depth} levels (api.max_json_depth)")
            return
        await self.app(scope, _replay({"type": "http.request", "body": body,
                                       "more_body": False}, receive), send)

    async def _too_deep(self, body: bytes) -> bool:
        if body.count(b"[") + body.count(b"{") <= self.max_json_depth:
            return False  # too few brackets to nest that deep (a C-speed count)
        text = body.decode("utf-8", "replace")
        if len(body) > SCAN_IN_THREAD:
            depth = await run_in_threadpool(nesting_depth, text, self.max_json_depth)
        else:
            depth = nesting_depth(text, self.max_json_depth)
        return depth > self.max_json_depth

    async def _too_large(self, send: Send) -> None:
        await _refuse(send, 413, "too_large", f"request body exceeds the limit of "
                      f"{self.max_bytes} bytes (api.max_body_bytes)")


async def _refuse(send: Send, status: int, kind: str, msg: str, *,
                  loc: list[str] | None = None,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """A JSON error in FastAPI's shape; the connection closes (the body is left unread)."""
    body = json.dumps({"detail": [{"loc": loc or ["body"], "type": kind, "msg": msg}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})

"""The HTTP client a leader asks its peers with (httpx; tests inject a transport)."""

from __future__ import annotations

from typing import Any

import httpx

from oracle.committee.errors import MessageRefused, PeerUnreachable

SIGN_PATH = "/committee/sign"


class PeerClient:
    def __init__(self, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(timeout=timeout_s, transport=transport)

    def ask(self, base_url: str, envelope: dict[str, Any]) -> dict[str, Any]:
        """The peer's signed reply; MessageRefused when it rejected the message itself (4xx),
        PeerUnreachable when it did not answer usefully."""
        url = base_url + SIGN_PATH
        try:
            reply = self._http.post(url, json=envelope)
        except httpx.HTTPError as err:
            raise PeerUnreachable(f"{url}: {type(err).__name__}: {err}") from err
        if 400 <= reply.status_code < 500:
            try:
                detail = reply.json().get("detail")
            except ValueError:
                detail = reply.text[:200]
            raise MessageRefused(f"{url} answered {reply.status_code}: {detail}")
        if reply.status_code != 200:
            raise PeerUnreachable(f"{url} answered {reply.status_code}")
        try:
            body = reply.json()
        except ValueError as err:
            raise PeerUnreachable(f"{url}: the reply is not JSON") from err
        if not isinstance(body, dict):
            raise PeerUnreachable(f"{url}: the reply is not a JSON object")
        return body

    def close(self) -> None:
        self._http.close()

"""The HTTP core shared by the backend and weather clients: retries, limits, strict JSON.

httpx exceptions are translated here and nowhere else:
timeouts, connection errors, 5xx, 429 -> SourceUnavailable (after retrying);
401/403 -> ConfigError (the token is wrong); other 4xx and bad bodies -> SourceDataInvalid.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from oracle.errors import ConfigError, SourceDataInvalid, SourceUnavailable

DEFAULT_MAX_BYTES = 8_000_000


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``Retry-After`` beyond ``max_wait_s`` is not waited."""

    retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    max_wait_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** attempt))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise SourceDataInvalid(f"duplicate key {key!r} in a JSON object",
                                        field=key, value=None)
            seen.add(key)
    return obj


def _reject_constant(name: str) -> float:
    raise SourceDataInvalid(f"non-standard JSON number {name}", field="(number)", value=name)


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise SourceDataInvalid(f"number {text[:40]} overflows a float", field="(number)",
                                value=text[:40])
    return number


def parse_json(body: bytes, *, what: str) -> Any:
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, no float overflow."""
    try:
        text = body.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicate_keys,
                          parse_constant=_reject_constant, parse_float=_finite_float)
    except SourceDataInvalid as err:
        raise SourceDataInvalid(f"{what}: {err}", field=err.field, value=err.value) from err
    except (UnicodeDecodeError, ValueError) as err:
        raise SourceDataInvalid(f"{what}: body is not valid JSON: {err}", field="(body)",
                                value=body[:80].decode("utf-8", "replace")) from err


@dataclass(frozen=True)
class Reply:
    """A response read in full (already decompressed)."""

    status_code: int
    headers: httpx.Headers
    content: bytes


class JsonHttp:
    """A JSON-over-HTTP session with retries and size and time limits."""

    def __init__(self, base_url: str, *, name: str, timeout_s: float,
                 policy: RetryPolicy | None = None, headers: Mapping[str, str] | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None
                 ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                    headers=dict(headers or {}), follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, headers: Mapping[str, str] | None = None,
                expect_json: bool = True) -> Any:
        """Send with retries; return the parsed JSON (or None when ``expect_json`` is false)."""
        what = f"{self.name} {method} {path}"
        for attempt in range(self.policy.retries + 1):
            failure, cause = self._attempt(method, path, params, body, headers, what)
            if isinstance(failure, Reply):
                return self._decode(failure, what) if expect_json else None
            wait = failure.retry_after
            last = attempt == self.policy.retries
            if last or (wait is not None and wait > self.policy.max_wait_s):
                raise failure from cause
            self._sleep(wait if wait is not None else self.policy.delay(attempt, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
                 headers: Mapping[str, str] | None, what: str
                 ) -> tuple[Reply | SourceUnavailable, Exception | None]:
        try:
            response = self._send(method, path, params, body, headers, what)
        except httpx.TimeoutException as err:
            return SourceUnavailable(f"{what}: no answer within {self.timeout_s:g} s"), err
        except httpx.TransportError as err:
            return SourceUnavailable(f"{what}: cannot connect: {err or type(err).__name__}"), err
        status = response.status_code
        if status < 400:
            return response, None
        detail = response.content[:200].decode("utf-8", "replace")
        if status >= 500 or status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return SourceUnavailable(f"{what}: HTTP {status} {detail}",
                                     retry_after=retry_after), None
        if status in (401, 403):
            raise ConfigError(f"{what}: HTTP {status}: the backend refused the token "
                              "(set ORACLE_BACKEND_TOKEN)", key="backend_token")
        raise SourceDataInvalid(f"{what}: HTTP {status}: request rejected: {detail}",
                                field="(status)", value=status)

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
              headers: Mapping[str, str] | None, what: str) -> Reply:
        """Read the body in chunks: stop at ``max_bytes`` or when the deadline passes."""
        deadline = time.monotonic() + self.timeout_s
        content = None if body is None else json.dumps(body, allow_nan=False).encode()
        send_headers = dict(headers or {})
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        with self._client.stream(method, path, params=params, content=content,
                                 headers=send_headers) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise self._too_big(what, int(declared))
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise self._too_big(what, size)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("body not complete before the deadline")
                chunks.append(chunk)
        return Reply(response.status_code, response.headers, b"".join(chunks))

    def _too_big(self, what: str, size: int) -> SourceDataInvalid:
        return SourceDataInvalid(f"{what}: response larger than {self.max_bytes} bytes "
                                 f"({size} or more)", field="(body)", value=size)

    def _decode(self, response: Reply, what: str) -> Any:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise SourceDataInvalid(f"{what}: expected application/json, got "
                                    f"{content_type or 'no content type'!r}",
                                    field="(content-type)", value=content_type)
        return parse_json(response.content, what=what)

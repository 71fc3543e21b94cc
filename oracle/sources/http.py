"""The HTTP core shared by the backend and weather clients: retries, limits, strict JSON.

httpx exceptions are translated here and nowhere else:
timeouts, connection errors, 5xx, 429 -> SourceUnavailable (after retrying);
401/403 -> ConfigError (the token is wrong); redirects and other 4xx -> RequestRefused;
bodies that are too big, badly encoded, not JSON or nested too deep -> SourceDataInvalid
(re-requested ``body_retries`` times first: a truncated or garbled answer may be transient).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, cast

import httpx

from oracle import jsonsafe
from oracle.errors import ConfigError, SourceDataInvalid, SourceUnavailable
from oracle.sources.encoding import EncodingRejected, decoded
from oracle.sources.schemas import DuplicateKeys
from oracle.textsafe import printable

DEFAULT_MAX_BYTES = 8_000_000
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 400  # far beyond any float (1.8e308) and cheap to convert


class RequestRefused(SourceDataInvalid):
    """The server answered 3xx or 4xx: asking again the same way will not help."""


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
        return float(value[:12])
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked, seen = DuplicateKeys(obj), set()
    for key, _ in pairs:
        if key in seen:
            marked.duplicate = key
            break
        seen.add(key)
    return marked


def _constant(name: str) -> float:
    """NaN and Infinity parse (as floats) so that the row holding one is refused, not the page."""
    return float(name)


def _integer(digits: str) -> int | float:
    """An integer too long for ``int()`` (over 4300 digits) overflows like ``1e999`` does, to
    infinity: the row holding it is refused, not the page."""
    if len(digits) > MAX_INT_DIGITS:
        return float("-inf") if digits.startswith("-") else float("inf")
    return int(digits)


def parse_json(body: bytes, *, what: str) -> Any:
    """JSON from outside: UTF-8, nested at most ``MAX_JSON_DEPTH`` deep."""
    try:
        return jsonsafe.loads(body, max_depth=MAX_JSON_DEPTH, object_pairs_hook=_object,
                              parse_constant=_constant, parse_int=_integer)
    except ValueError as err:  # JsonRejected, or a number with too many digits
        raise SourceDataInvalid(f"{what}: body is not usable JSON: {printable(str(err), 120)}",
                                field="(body)", value=printable(body[:80].decode("utf-8", "replace"))
                                ) from None


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
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None,
                 body_retries: int = 0, max_bytes_setting: str | None = None) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.policy = policy or RetryPolicy()
        self.max_bytes = max_bytes
        self.max_bytes_setting = max_bytes_setting  # named when a response is over max_bytes
        self.body_retries = body_retries
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            base_url=base_url, timeout=timeout_s, transport=transport, follow_redirects=False,
            headers={"Accept-Encoding": "gzip, deflate", **dict(headers or {})})

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: Any = None, headers: Mapping[str, str] | None = None,
                expect_json: bool = True, parse: Callable[[Any], Any] | None = None) -> Any:
        """Send with retries; return the parsed JSON passed through ``parse`` (None when
        ``expect_json`` is false). A body that ``parse`` refuses is re-requested like a
        garbled one."""
        what = f"{self.name} {method} {path}"
        for attempt in range(self.body_retries + 1):
            try:
                reply = self._answered(method, path, params, body, headers, what)
                if not expect_json:
                    return None
                document = self._decode(reply, what)
                return parse(document) if parse is not None else document
            except RequestRefused:
                raise
            except SourceDataInvalid:
                if attempt == self.body_retries:
                    raise
            self._sleep(self.policy.delay(attempt, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover

    def _answered(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
                  headers: Mapping[str, str] | None, what: str) -> Reply:
        """A reply below 300, after retrying what may be transient."""
        for attempt in range(self.policy.retries + 1):
            failure, cause = self._attempt(method, path, params, body, headers, what)
            if isinstance(failure, Reply):
                return failure
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
            reason = printable(str(err) or type(err).__name__, 160)
            return SourceUnavailable(f"{what}: cannot connect: {reason}"), err
        except httpx.HTTPError as err:  # an answer httpx cannot read (stream, decoding)
            reason = printable(str(err) or type(err).__name__, 160)
            raise SourceDataInvalid(f"{what}: unreadable response: {reason}", field="(body)",
                                    value=type(err).__name__) from err
        status = response.status_code
        if status < 300:
            return response, None
        detail = printable(response.content[:400].decode("utf-8", "replace"), 160)
        if status >= 500 or status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return SourceUnavailable(f"{what}: HTTP {status} {detail}",
                                     retry_after=retry_after), None
        if status in (401, 403):
            raise ConfigError(f"{what}: HTTP {status}: the backend refused the token "
                              "(set ORACLE_BACKEND_TOKEN)", key="backend_token")
        if status < 400:
            location = printable(response.headers.get("location", "(none)"), 120)
            raise RequestRefused(f"{what}: HTTP {status}: redirects are not followed "
                                 f"(Location {location})", field="(status)", value=status)
        raise RequestRefused(f"{what}: HTTP {status}: request rejected: {detail}",
                             field="(status)", value=status)

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
              headers: Mapping[str, str] | None, what: str) -> Reply:
        """Read and decode the body in steps: stop once the decoded body passes ``max_bytes``
        (however small it was on the wire) or when the deadline passes."""
        deadline = time.monotonic() + self.timeout_s
        content = None if body is None else json.dumps(body, allow_nan=False).encode()
        send_headers = dict(headers or {})
        if content is not None:
            send_headers["Content-Type"] = "application/json"
        with self._client.stream(method, path, params=params, content=content,
                                 headers=send_headers) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared[:20]) > self.max_bytes:
                raise self._too_big(what, int(declared[:20]))
            chunks: list[bytes] = []
            size = 0
            # A response built in memory (mock transports) was read on creation; its stream
            # still holds the raw bytes.
            raw = (cast(Iterable[bytes], response.stream) if response.is_stream_consumed
                   else response.iter_raw())
            try:
                for chunk in decoded(raw, response.headers.get("content-encoding")):
                    size += len(chunk)
                    if size > self.max_bytes:
                        chunks.clear()  # not kept alive by the error's traceback
                        raise self._too_big(what, size)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("body not complete before the deadline")
                    chunks.append(chunk)
            except EncodingRejected as err:
                raise SourceDataInvalid(f"{what}: {err}", field="(content-encoding)",
                                        value=printable(response.headers.get("content-encoding"))
                                        ) from None
        return Reply(response.status_code, response.headers, b"".join(chunks))

    def _too_big(self, what: str, size: int) -> SourceDataInvalid:
        setting = f" (setting {self.max_bytes_setting})" if self.max_bytes_setting else ""
        return SourceDataInvalid(f"{what}: response larger than {self.max_bytes} bytes{setting}"
                                 f": {size} or more", field="(body)", value=size)

    def _decode(self, response: Reply, what: str) -> Any:
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            shown = printable(content_type, 60) if content_type else "no content type"
            raise SourceDataInvalid(f"{what}: expected application/json, got {shown!r}",
                                    field="(content-type)", value=shown)
        return parse_json(response.content, what=what)

"""Client of the SolChain backend REST contract (v1): meters, readings, orders, grid, results."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from oracle.config import BackendSettings
from oracle.errors import SourceDataInvalid, SourceUnavailable
from oracle.sources.http import JsonHttp, RetryPolicy
from oracle.sources.schemas import (
    Batch,
    GridIn,
    MeterIn,
    OrderIn,
    ReadingIn,
    ReadingsEnvelope,
    validate_document,
    validate_rows,
)
from oracle.textsafe import printable

ResultKind = Literal["forecasts", "prices", "anomalies", "schedules"]


@dataclass
class ReadingsPage:
    """One page of readings: valid and rejected rows, and where the next page starts."""

    number: int
    cursor: str | None
    next_cursor: str | None
    batch: Batch[ReadingIn]


def iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts!r} has no time zone")
    return ts.isoformat()


class BackendClient:
    """The backend over HTTP; every payload is validated before it is returned."""

    def __init__(self, settings: BackendSettings, token: SecretStr | str | None = None, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        headers = {"Accept": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        policy = RetryPolicy(retries=settings.retries, backoff_s=settings.backoff_s)
        self._http = JsonHttp(settings.url, name="backend", timeout_s=settings.timeout_s,
                              policy=policy, headers=headers,
                              max_bytes=settings.max_response_bytes,
                              max_bytes_setting="backend.max_response_bytes",
                              transport=transport, sleep=sleep, rng=rng,
                              body_retries=settings.page_retries)

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def meters(self) -> Batch[MeterIn]:
        return self._http.request("GET", "/api/v1/meters", parse=lambda raw: validate_rows(
            MeterIn, raw, source="meters"))

    def orders(self, interval_start: datetime) -> Batch[OrderIn]:
        return self._http.request("GET", "/api/v1/market/orders",
                                  params={"interval_start": iso(interval_start)},
                                  parse=lambda raw: validate_rows(OrderIn, raw, source="orders"))

    def grid(self) -> GridIn:
        return self._http.request("GET", "/api/v1/grid", parse=lambda raw: validate_document(
            GridIn, raw, source="grid"))

    def readings_page(self, since: datetime, until: datetime, cursor: str | None = None,
                      number: int = 0) -> ReadingsPage:
        """One page of readings; a broken envelope is re-requested, then SourceDataInvalid."""
        params: dict[str, Any] = {"since": iso(since), "until": iso(until),
                                  "limit": self.settings.page_size}
        if cursor is not None:
            params["cursor"] = cursor

        def parse(raw: Any) -> ReadingsEnvelope:
            return validate_document(ReadingsEnvelope, raw, source=f"readings page {number}",
                                     deep=False)

        envelope = self._http.request("GET", "/api/v1/readings", params=params, parse=parse)
        return ReadingsPage(number, cursor, envelope.next_cursor,
                            validate_rows(ReadingIn, envelope.items, source="readings"))

    def readings_pages(self, since: datetime, until: datetime,
                       cursor: str | None = None) -> Iterator[ReadingsPage]:
        """Walk the cursor from ``cursor`` (or the start) until the backend says it is done.

        A cursor seen twice, or more than ``max_pages`` pages, is a backend bug: stop with
        SourceDataInvalid instead of looping for ever.
        """
        seen: set[str] = set()
        for number in range(self.settings.max_pages):
            if cursor is not None:
                seen.add(cursor)
            page = self.readings_page(since, until, cursor, number)
            if page.next_cursor is not None and page.next_cursor in seen:
                raise SourceDataInvalid(
                    f"readings: the backend's cursor loops (page {number} points back to "
                    f"{printable(page.next_cursor, 60)})", field="next_cursor", row=number,
                    value=printable(page.next_cursor, 60))
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
        raise SourceDataInvalid(
            f"readings: still more pages after max_pages={self.settings.max_pages}; "
            "the cursor does not end (raise backend.max_pages if the data is really that big)",
            field="next_cursor", row=self.settings.max_pages, value=printable(cursor, 60))

    def post_result(self, kind: ResultKind, payload: Any, idempotency_key: str) -> None:
        """POST a result; the backend stores each ``Idempotency-Key`` once, so retrying is safe."""
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        self._http.request("POST", f"/api/v1/oracle/{kind}", body=payload,
                           headers={"Idempotency-Key": idempotency_key}, expect_json=False)


def replay_now(settings: BackendSettings) -> datetime:
    """The reference backend's replay clock (``/healthz``), for replays in accelerated time."""
    try:
        reply = httpx.get(f"{settings.url.rstrip('/')}/healthz", timeout=settings.timeout_s)
        return datetime.fromisoformat(reply.json()["replay_now"]).astimezone(UTC)
    except (httpx.HTTPError, KeyError, ValueError) as err:
        raise SourceUnavailable(f"backend clock at {settings.url}/healthz: {err}") from err

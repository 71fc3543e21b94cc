"""BackendClient against httpx.MockTransport: payloads, retries, limits and every bad input."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from oracle.config import BackendSettings
from oracle.errors import ConfigError, SourceDataInvalid, SourceUnavailable
from oracle.sources.client import BackendClient
from oracle.sources.http import RequestRefused, parse_retry_after

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 1, 2, tzinfo=UTC)
READING = {"meter_id": "m1", "ts": "2024-01-01T00:00:00Z", "consumption_kwh": 0.5,
           "production_kwh": 0.0}
METER = {"meter_id": "m1", "user_id": "u1", "node_id": "n1", "kind": "prosumer",
         "pv_kwp": 5.0, "storage_kwh": 0.0, "lat": 52.0, "lon": 4.0}

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, sleeps: list[float] | None = None, **settings: object
                ) -> BackendClient:
    config = BackendSettings(url="http://127.0.0.1:9", **{"retries": 2, **settings})  # type: ignore[arg-type]
    record = sleeps if sleeps is not None else []
    return BackendClient(config, token="s3cret", transport=httpx.MockTransport(handler),
                         sleep=record.append, rng=random.Random(0))


def json_response(payload: object, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(payload).encode(),
                          headers={"content-type": "application/json", **headers})


def raw_response(body: bytes, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": content_type})


def page(items: list[dict[str, object]], next_cursor: str | None = None) -> dict[str, object]:
    return {"items": items, "next_cursor": next_cursor}


# ---------------------------------------------------------------- the happy path


def test_meters_sends_bearer_token_and_validates_rows() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response([METER])

    batch = make_client(handler).meters()
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert seen[0].url.path == "/api/v1/meters"
    assert [m.meter_id for m in batch.valid] == ["m1"] and batch.rejected == []


def test_readings_follow_the_cursor_until_it_ends() -> None:
    pages = {None: page([READING], "c1"),
             "c1": page([{**READING, "ts": "2024-01-01T01:00:00+00:00"}], "c2"),
             "c2": page([{**READING, "ts": "2024-01-01T02:00:00+01:00"}])}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["since"] == SINCE.isoformat()
        return json_response(pages[request.url.params.get("cursor")])

    result = list(make_client(handler).readings_pages(SINCE, UNTIL))
    assert [p.next_cursor for p in result] == ["c1", "c2", None]
    stamps = [r.ts for p in result for r in p.batch.valid]
    # "+01:00" is normalised to UTC.
    assert stamps == [datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 1, 1)]


def test_post_result_sends_idempotency_key_and_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    make_client(handler).post_result("prices", {"price": 0.2}, "price:zone-1:2024-01-01T00")
    assert seen[0].method == "POST" and seen[0].url.path == "/api/v1/oracle/prices"
    assert seen[0].headers["idempotency-key"] == "price:zone-1:2024-01-01T00"
    assert json.loads(seen[0].content) == {"price": 0.2}


# ---------------------------------------------------------------- bad bodies


@pytest.mark.parametrize(("body", "content_type", "needle"), [
    (b"<html>oops</html>", "application/json", "not valid JSON"),
    (b'[{"a": 1}]', "text/html", "expected application/json"),
    (b'{"items": [], "items": [], "next_cursor": null}', "application/json",
     "duplicate key 'items'"),
    (b'{"next_cursor": null}', "application/json", "items"),
    (b'{"items": []}', "application/json", "next_cursor"),
    (b'[1, 2]', "application/json", "readings page 0"),
    (b"[" * 100_000, "application/json", "nested deeper than 64 levels"),
    (b'{"items": [], "next_cursor": "' + b"c" * 4097 + b'"}', "application/json",
     "next_cursor"),
    (b'{"items": [], "next_cursor": "c\\u0007"}', "application/json", "next_cursor"),
    (b'{"items": "\xff"}', "application/json", "not UTF-8"),
    (b"\xef\xbb\xbf{}", "application/json", "not valid JSON"),  # a UTF-8 BOM
])
def test_bad_bodies_raise_source_data_invalid(body: bytes, content_type: str,
                                              needle: str) -> None:
    client = make_client(lambda request: raw_response(body, content_type))
    with pytest.raises(SourceDataInvalid) as info:
        list(client.readings_pages(SINCE, UNTIL))
    assert needle in str(info.value)
    assert info.value.field is not None


@pytest.mark.parametrize(("change", "field"), [
    ({"consumption_kwh": "0.5"}, "consumption_kwh"),  # wrong type: numbers are strict
    ({"consumption_kwh": True}, "consumption_kwh"),
    ({"production_kwh": 1e12}, "production_kwh"),  # huge
    ({"ts": "2024-01-01T00:00:00"}, "ts"),  # no time zone
    ({"ts": "yesterday"}, "ts"),
    ({"meter_id": ""}, "meter_id"),
    ({"unexpected": 1}, "unexpected"),  # extra field
])
def test_bad_rows_are_rejected_with_field_and_the_rest_kept(change: dict[str, object],
                                                            field: str) -> None:
    bad = {**READING, "ts": "2024-01-01T01:00:00Z", **change}
    client = make_client(lambda request: json_response(page([READING, bad])))
    (result,) = list(client.readings_pages(SINCE, UNTIL))
    assert [r.meter_id for r in result.batch.valid] == ["m1"]
    (rejected,) = result.batch.rejected
    assert rejected.field == field and rejected.row == 1 and rejected.source == "readings"
    assert field in rejected.reason
    assert rejected.payload == bad


def test_missing_field_is_rejected() -> None:
    bad = {k: v for k, v in READING.items() if k != "production_kwh"}
    client = make_client(lambda request: json_response(page([bad])))
    (result,) = list(client.readings_pages(SINCE, UNTIL))
    assert result.batch.valid == [] and result.batch.rejected[0].field == "production_kwh"
    assert "Field required" in result.batch.rejected[0].reason


def test_payload_over_the_size_limit_is_refused() -> None:
    ten_mb = json.dumps(page([READING] * 120_000)).encode()
    assert len(ten_mb) > 10_000_000
    client = make_client(lambda request: raw_response(ten_mb))
    with pytest.raises(SourceDataInvalid, match="larger than 8000000 bytes"):
        list(client.readings_pages(SINCE, UNTIL))


# ---------------------------------------------------------------- cursors


def test_looping_cursor_is_stopped() -> None:
    cursors = {None: "a", "a": "b", "b": "a"}

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(page([READING], cursors[request.url.params.get("cursor")]))

    with pytest.raises(SourceDataInvalid, match="cursor loops") as info:
        list(make_client(handler).readings_pages(SINCE, UNTIL))
    assert info.value.field == "next_cursor" and info.value.value == "a"


def test_endless_cursor_stops_at_max_pages() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return json_response(page([READING], f"c{len(calls)}"))

    with pytest.raises(SourceDataInvalid, match="max_pages=5"):
        list(make_client(handler, max_pages=5).readings_pages(SINCE, UNTIL))
    assert len(calls) == 5


# ---------------------------------------------------------------- retries


def test_5xx_and_timeouts_are_retried_with_growing_backoff() -> None:
    outcomes: list[object] = [httpx.ConnectTimeout("slow"), httpx.Response(502),
                              json_response([METER])]
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, httpx.Response)
        return outcome

    batch = make_client(handler, sleeps, backoff_s=1.0).meters()
    assert len(batch.valid) == 1 and outcomes == []
    assert len(sleeps) == 2 and 0 <= sleeps[0] <= 1.0 and 0 <= sleeps[1] <= 2.0


def test_gives_up_after_retries_with_source_unavailable() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("connection refused")

    with pytest.raises(SourceUnavailable, match="cannot connect"):
        make_client(handler, retries=3).meters()
    assert len(calls) == 4


def test_read_timeout_is_source_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow body")

    with pytest.raises(SourceUnavailable, match="no answer within"):
        make_client(handler, timeout_s=0.5).meters()


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_4xx_is_never_retried(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return json_response({"detail": "no"}, status)

    with pytest.raises(SourceDataInvalid, match=f"HTTP {status}"):
        make_client(handler).meters()
    assert len(calls) == 1


def test_401_says_the_token_is_wrong() -> None:
    with pytest.raises(ConfigError, match="token") as info:
        make_client(lambda request: httpx.Response(401)).meters()
    assert info.value.key == "backend_token"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(status: int) -> None:
    outcomes = [json_response({}, status, **{"retry-after": "3"}), json_response([METER])]
    sleeps: list[float] = []
    batch = make_client(lambda request: outcomes.pop(0), sleeps).meters()
    assert sleeps == [3.0] and len(batch.valid) == 1


def test_long_retry_after_is_reported_not_waited() -> None:
    sleeps: list[float] = []
    client = make_client(lambda r: json_response({}, 503, **{"retry-after": "3600"}), sleeps)
    with pytest.raises(SourceUnavailable) as info:
        client.meters()
    assert info.value.retry_after == 3600.0 and sleeps == []


def test_retry_after_as_http_date() -> None:
    now = datetime(2024, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("soon", now=now) is None


# ---------------------------------------------------------------- hostile pages (issue 23)


def stream_response(body: bytes, **headers: str) -> httpx.Response:
    """A response that is streamed, not read on creation (as from a real server)."""
    return httpx.Response(200, stream=httpx.ByteStream(body),
                          headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize(("raw_value", "field"), [
    ("NaN", "consumption_kwh"), ("Infinity", "consumption_kwh"), ("-Infinity", "consumption_kwh"),
    ("1e999", "consumption_kwh"), ("9" * 5000, "consumption_kwh"),
])
def test_a_non_finite_number_refuses_its_row_not_the_page(raw_value: str, field: str) -> None:
    bad = json.dumps({**READING, "ts": "2024-01-01T01:00:00Z"}).replace("0.5", raw_value)
    body = f'{{"items": [{json.dumps(READING)}, {bad}], "next_cursor": null}}'.encode()
    (result,) = list(make_client(lambda r: raw_response(body)).readings_pages(SINCE, UNTIL))
    assert [r.meter_id for r in result.batch.valid] == ["m1"]
    (rejected,) = result.batch.rejected
    assert rejected.field == field and rejected.row == 1
    row = rejected.as_row()
    json.dumps(row, allow_nan=False)  # the quarantine payload is plain JSON
    assert len(row["value"]) <= 500


def test_a_repeated_key_refuses_its_row_not_the_page() -> None:
    bad = '{"meter_id": "m1", "ts": "2024-01-01T01:00:00Z", "consumption_kwh": 0.5, ' \
          '"consumption_kwh": 9.5, "production_kwh": 0.0}'
    body = f'{{"items": [{json.dumps(READING)}, {bad}], "next_cursor": null}}'.encode()
    (result,) = list(make_client(lambda r: raw_response(body)).readings_pages(SINCE, UNTIL))
    assert len(result.batch.valid) == 1
    assert result.batch.rejected[0].field == "consumption_kwh"
    assert "more than once" in result.batch.rejected[0].reason


def test_unknown_envelope_keys_are_tolerated() -> None:
    body = {"items": [READING], "next_cursor": None, "total": 1, "links": {"self": "/x"}}
    (result,) = list(make_client(lambda r: json_response(body)).readings_pages(SINCE, UNTIL))
    assert len(result.batch.valid) == 1 and result.batch.rejected == []


@pytest.mark.parametrize("ts", [
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", 1704067200, 1704067200.0,
    "1704067200", "2024-01-01T00:00:00", "2024-01-01", "20240101T000000Z", "2300-01-01T00:00:00Z",
    "1969-12-31T23:00:00Z", "2024-02-30T00:00:00Z", "２０２４-01-01T00:00:00Z", None, True,
    {"$date": "2024-01-01"}, "2024-01-01T00:00:00Z" + " " * 100,
])
def test_ts_must_be_an_iso_8601_string_with_a_zone_in_range(ts: object) -> None:
    bad = {**READING, "ts": ts}
    (result,) = list(make_client(lambda r: json_response(page([bad]))).readings_pages(SINCE, UNTIL))
    assert result.batch.valid == []
    (rejected,) = result.batch.rejected
    assert rejected.field == "ts" and len(rejected.reason) < 200 and "\n" not in rejected.reason


def test_deep_nesting_is_refused_even_with_a_raised_recursion_limit() -> None:
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # as py-evm and py_ecc do when they are imported
    try:
        for body in (b"[" * 100_000, b'{"a":' * 50_000, b'{"items": ' + b"[" * 70 + b"]" * 70
                     + b', "next_cursor": null}'):
            def deep(_request: httpx.Request, body: bytes = body) -> httpx.Response:
                return raw_response(body)

            with pytest.raises(SourceDataInvalid, match="nested deeper than 64"):
                make_client(deep).readings_page(SINCE, UNTIL)
    finally:
        sys.setrecursionlimit(limit)


def test_a_broken_body_is_requested_again_before_it_is_refused() -> None:
    bodies = [b"[" * 1000, b"{", json.dumps(page([READING])).encode()]
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return raw_response(bodies[min(len(calls) - 1, len(bodies) - 1)])

    result = make_client(handler, page_retries=2).readings_page(SINCE, UNTIL)
    assert len(result.batch.valid) == 1 and len(calls) == 3
    calls.clear()
    bodies[2] = b"{"
    with pytest.raises(SourceDataInvalid, match="not valid JSON"):
        make_client(handler, page_retries=1).readings_page(SINCE, UNTIL)
    assert len(calls) == 2


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_refused_not_followed_nor_retried(status: int) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, content=b"[]", headers={"location": "/login",
                                                                "content-type": "application/json"})

    with pytest.raises(RequestRefused, match=f"HTTP {status}: redirects are not followed"):
        make_client(handler, page_retries=3).meters()
    assert len(calls) == 1


def test_decompressed_size_is_bounded_while_streaming() -> None:
    import tracemalloc

    from hostile_backend import gzip_bomb

    bomb = gzip_bomb()  # 1 GiB of zeros in a few KB
    assert len(bomb) < 4000
    config = BackendSettings(url="http://127.0.0.1:9", retries=0, page_retries=0,
                             max_response_bytes=1_000_000)
    client = BackendClient(config, transport=httpx.MockTransport(
        lambda r: stream_response(bomb, **{"content-encoding": "gzip, gzip"})))
    tracemalloc.start()
    try:
        with pytest.raises(SourceDataInvalid, match="larger than 1000000 bytes"):
            client.readings_page(SINCE, UNTIL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # the limit and a few decode steps, not the gigabyte


def test_gzip_and_deflate_bodies_are_decoded() -> None:
    import gzip
    import zlib

    body = json.dumps(page([READING])).encode()
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body)),
                             ("gzip, deflate", zlib.compress(gzip.compress(body)))):
        def encoded(_request: httpx.Request, p: bytes = packed,
                    e: str = encoding) -> httpx.Response:
            return stream_response(p, **{"content-encoding": e})

        client = make_client(encoded)
        assert len(client.readings_page(SINCE, UNTIL).batch.valid) == 1


@pytest.mark.parametrize(("encoding", "body", "needle"), [
    ("br", b"\x00", "unsupported Content-Encoding 'br'"),
    ("gzip", b"not gzip at all", "corrupt gzip body"),
    ("gzip, gzip, gzip, gzip", b"", "stacks 4 codings"),
])
def test_bad_encodings_are_refused(encoding: str, body: bytes, needle: str) -> None:
    client = make_client(lambda r: stream_response(body, **{"content-encoding": encoding}))
    with pytest.raises(SourceDataInvalid, match=needle):
        client.readings_page(SINCE, UNTIL)


def test_error_messages_are_one_short_line() -> None:
    detail = ("line one\nline two\x00" + "x" * 5000).encode()
    client = make_client(lambda r: httpx.Response(400, content=detail))
    with pytest.raises(SourceDataInvalid) as info:
        client.meters()
    message = str(info.value)
    assert "\n" not in message and "\x00" not in message and len(message) < 300


# ---------------------------------------------------------------- the response limit (issue 21)


def test_the_response_limit_is_the_backend_setting_max_response_bytes() -> None:
    from hostile_backend import HOUR, T0, serving
    from pydantic import ValidationError

    with serving() as (_backend, url):
        params = {"since": T0.isoformat(), "until": (T0 + 24 * HOUR).isoformat(), "limit": 24}
        size = len(httpx.get(f"{url}/api/v1/readings", params=params).content)
        assert size > 2048

        def page_with(limit: int) -> int:
            config = BackendSettings(url=url, retries=0, page_retries=0, page_size=24,
                                     max_response_bytes=limit)
            with BackendClient(config) as client:
                return len(client.readings_page(T0, T0 + 24 * HOUR).batch.valid)

        assert page_with(size) == 24  # a body of exactly the limit is read
        with pytest.raises(SourceDataInvalid) as refused:
            page_with(size - 1)
    assert str(refused.value) == (
        f"backend GET /api/v1/readings: response larger than {size - 1} bytes "
        f"(setting backend.max_response_bytes): {size} or more")
    assert BackendSettings().max_response_bytes == 8_000_000
    with pytest.raises(ValidationError, match="max_response_bytes"):
        BackendSettings(max_response_bytes=1023)

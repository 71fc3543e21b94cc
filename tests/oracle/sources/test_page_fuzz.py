"""Fuzz the backend client's page parser (HTTP body -> JSON -> envelope -> rows -> plausibility
-> quarantine row): on arbitrary bytes, JSON-like documents with hostile values, mutated valid
pages and deep nesting it returns a page or raises our SourceDataInvalid with one short line;
whatever it rejects becomes a quarantine row any database takes. 500 examples each."""

from __future__ import annotations

import gzip
import json
import math
from datetime import UTC, datetime, timedelta

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle.config import BackendSettings
from oracle.errors import SourceDataInvalid
from oracle.sources.client import BackendClient
from oracle.sources.schemas import TIME_MAX, TIME_MIN, MeterIn
from oracle.sources.validation import check_readings
from oracle.store.quarantine import LIMITS, prepared_row

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=1)
NOW = UNTIL + timedelta(hours=1)
METERS = {"m1": MeterIn(meter_id="m1", user_id="u1", node_id="n1", kind="prosumer",
                        pv_kwp=5.0, storage_kwh=0.0)}
FUZZ = settings(max_examples=500, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TIMES = st.sampled_from([
    "2024-01-01T05:00:00Z", "2024-01-01T05:00:00+00:00", "2024-01-01T06:30:00+01:00",
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "2024-01-01T05:00:00",
    "1704085200", "2024-13-01T00:00:00Z", "", "2024-01-01T05:00:00.123456789Z"])
TEXT = st.text(max_size=40)  # any code point, lone surrogates included (JSON allows "\ud800")
LEAVES = (st.none() | st.booleans() | st.integers(min_value=-(10 ** 600), max_value=10 ** 600)
          | st.floats(allow_nan=True, allow_infinity=True) | TEXT | TIMES)
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20)
ROWS = st.fixed_dictionaries(
    {"meter_id": st.sampled_from(["m1", "m2", "", "m1\x00", "x" * 100]) | VALUES,
     "ts": TIMES | VALUES,
     "consumption_kwh": st.floats(allow_nan=True, allow_infinity=True) | VALUES,
     "production_kwh": st.floats(min_value=-1, max_value=10) | VALUES},
    optional={"extra": VALUES, "k" * 100 + "\x00": VALUES})
PAGES = st.fixed_dictionaries(
    {"items": st.lists(ROWS | VALUES, max_size=6) | VALUES,
     "next_cursor": st.none() | TEXT | VALUES},
    optional={"total": VALUES})


def encoded(document: object) -> bytes:
    """JSON text as a sloppy server writes it: NaN and Infinity as bare tokens."""
    return json.dumps(document, allow_nan=True).encode()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(encoded(draw(PAGES)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, max(0, len(body) - 1)))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and body:
            body[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del body[at:]
        else:
            body[at:at] = draw(st.sampled_from([b"[", b"{", b'"', b"\\u0000", b"NaN", b",",
                                                b"\xff", b"1e999", b"9" * 5000]))
    return bytes(body)


DEEP = st.builds(lambda n, opener: opener * n, st.integers(1, 150_000),
                 st.sampled_from([b"[", b'{"a":', b'{"items": [']))
BODIES = st.one_of(st.binary(max_size=300), st.builds(encoded, PAGES), mutated(), DEEP,
                   st.builds(encoded, VALUES))
CONTENT_TYPES = st.sampled_from(["application/json", "application/problem+json", "text/html",
                                 "", "application/json; charset=latin-1"])


def answer(body: bytes, content_type: str, compress: str | None) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    if compress == "gzip":
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    elif compress is not None:
        headers["content-encoding"] = compress  # a lie: the body is not encoded that way
    return httpx.Response(200, stream=httpx.ByteStream(body), headers=headers)


def parse_page(response: httpx.Response) -> None:
    config = BackendSettings(url="http://127.0.0.1:9", retries=0, page_retries=0,
                             max_response_bytes=300_000)
    client = BackendClient(config, transport=httpx.MockTransport(lambda request: response))
    try:
        page = client.readings_page(SINCE, UNTIL)
    except SourceDataInvalid as err:
        message = str(err)
        assert "\n" not in message and "\x00" not in message and len(message) < 1000
        message.encode("utf-8")  # printable on any terminal or log
        return
    finally:
        client.close()
    for reading in page.batch.valid:
        assert math.isfinite(reading.consumption_kwh) and math.isfinite(reading.production_kwh)
        assert TIME_MIN <= reading.ts < TIME_MAX and reading.ts.tzinfo is not None
    checked = check_readings(page.batch.valid, METERS, now=NOW, window=(SINCE, UNTIL))
    for rejected in (*page.batch.rejected, *checked.rejected):
        row = prepared_row(rejected.as_row(), NOW)
        json.dumps(row["payload"], allow_nan=False)
        json.dumps(row["payload"], ensure_ascii=False).encode("utf-8")  # any database takes it
        for name, limit in LIMITS.items():
            assert row[name] is None or (len(row[name]) <= limit and "\x00" not in row[name])
            if row[name] is not None:
                row[name].encode("utf-8")  # raises on a lone surrogate


@FUZZ
@given(BODIES, CONTENT_TYPES, st.sampled_from([None, None, "gzip", "deflate", "br"]))
def test_the_page_parser_returns_a_page_or_our_error(body: bytes, content_type: str,
                                                     compress: str | None) -> None:
    parse_page(answer(body, content_type, compress))


@FUZZ
@given(st.lists(ROWS, min_size=1, max_size=8))
def test_every_hostile_row_is_kept_or_quarantined_never_raised(rows: list[object]) -> None:
    parse_page(answer(encoded({"items": rows, "next_cursor": None}), "application/json", None))

"""Content-Encoding decoded in bounded steps: stacked and multi-member gzip, deflate with or
without its header, and every way an encoding can be wrong."""

from __future__ import annotations

import gzip
import zlib

import pytest

from oracle.sources.encoding import STEP, EncodingRejected, codings, decoded

DATA = b'{"items": [1, 2, 3], "next_cursor": null}' * 500


def chunks(body: bytes, size: int = 97) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize(("header", "body"), [
    (None, DATA),
    ("identity", DATA),
    ("gzip", gzip.compress(DATA)),
    ("x-gzip", gzip.compress(DATA)),
    ("deflate", zlib.compress(DATA)),
    ("deflate", zlib.compress(DATA)[2:-4]),  # raw deflate, as some servers send it
    ("gzip, deflate", zlib.compress(gzip.compress(DATA))),
    ("GZIP ,  gzip", gzip.compress(gzip.compress(DATA))),
    ("gzip", gzip.compress(DATA[:100]) + gzip.compress(DATA[100:])),  # two members
])
def test_bodies_decode_to_what_was_sent(header: str | None, body: bytes) -> None:
    pieces = list(decoded(chunks(body), header))
    assert b"".join(pieces) == DATA and all(len(p) <= STEP for p in pieces)


def test_a_bomb_is_decoded_lazily() -> None:
    bomb = gzip.compress(gzip.compress(b"\0" * (64 << 20)))
    seen = 0
    for piece in decoded(chunks(bomb, 512), "gzip, gzip"):
        assert len(piece) <= STEP
        seen += len(piece)
        if seen > 1 << 20:
            break  # the caller stops at its limit; nothing beyond was inflated
    assert seen <= (1 << 20) + STEP


@pytest.mark.parametrize(("header", "body", "needle"), [
    ("br", b"x", "unsupported Content-Encoding 'br'"),
    ("gzip, zstd", b"x", "unsupported Content-Encoding 'zstd'"),
    ("gzip, gzip, gzip, gzip", b"", "stacks 4 codings"),
    ("gzip", b"plain text", "corrupt gzip body"),
    ("gzip", gzip.compress(DATA)[:-12], "truncated"),
    ("deflate", zlib.compress(DATA) + b"trailing", "after the end"),
])
def test_wrong_encodings_are_refused(header: str, body: bytes, needle: str) -> None:
    with pytest.raises(EncodingRejected, match=needle):
        list(decoded(chunks(body), header))


def test_codings_are_listed_in_the_order_applied() -> None:
    assert codings("gzip, identity, deflate") == ["gzip", "deflate"]
    assert codings(None) == codings("") == []

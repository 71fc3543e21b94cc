"""``Content-Encoding`` decoded in bounded steps, so a small compressed body cannot expand past
the body limit in memory (``gzip, gzip`` of 1.8 KB holds 1 GiB of zeros).

httpx decodes each received chunk in one call, however large the result; here every layer
(outermost first) inflates at most ``STEP`` bytes at a time and the caller counts what comes out.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

STEP = 64 * 1024
MAX_LAYERS = 3
CODINGS = ("gzip", "x-gzip", "deflate")


class EncodingRejected(ValueError):
    """The body's encoding is unsupported, stacked too deep or corrupt; says which, briefly."""


class _Inflater:
    """One gzip or deflate layer; gzip bodies may hold several members one after another."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._raw_deflate = False
        self._started = False
        self._new()

    def _new(self) -> None:
        if self.coding == "deflate":
            wbits = -zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS
        else:
            wbits = 16 + zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._inflate.decompress(data, STEP)
            except zlib.error as err:
                if self.coding == "deflate" and not self._started and not self._raw_deflate:
                    self._raw_deflate = True  # some servers send raw deflate without the header
                    self._new()
                    continue
                raise EncodingRejected(f"corrupt {self.coding} body: {err}") from None
            self._started = True
            if out:
                yield out
            if self._inflate.eof:
                data = self._inflate.unused_data
                if data and self.coding == "deflate":
                    raise EncodingRejected("data after the end of the deflate stream")
                if data:
                    self._new()  # the next gzip member
            else:
                data = self._inflate.unconsumed_tail
                if not data and len(out) == STEP:
                    data = b""
                    yield from self._drain()

    def _drain(self) -> Iterator[bytes]:
        while True:
            out = self._inflate.decompress(b"", STEP)
            if not out:
                return
            yield out

    def finish(self) -> None:
        if self._started and not self._inflate.eof:
            raise EncodingRejected(f"the {self.coding} body is truncated")


def codings(header: str | None) -> list[str]:
    """The codings applied to a body, in the order they were applied (identity dropped)."""
    names = [c.strip().lower() for c in (header or "").split(",")]
    names = [c for c in names if c and c != "identity"]
    unknown = [c for c in names if c not in CODINGS]
    if unknown:
        raise EncodingRejected(f"unsupported Content-Encoding {unknown[0][:40]!r} "
                               "(gzip and deflate are accepted)")
    if len(names) > MAX_LAYERS:
        raise EncodingRejected(f"Content-Encoding stacks {len(names)} codings "
                               f"(at most {MAX_LAYERS} are accepted)")
    return names


def decoded(chunks: Iterable[bytes], header: str | None) -> Iterator[bytes]:
    """The decoded body of ``chunks`` (as received), in pieces of at most ``STEP`` bytes."""
    layers = [_Inflater(c) for c in reversed(codings(header))]  # the last applied comes off first
    if not layers:
        yield from (c for c in chunks if c)
        return

    def through(pieces: Iterable[bytes], depth: int) -> Iterator[bytes]:
        if depth == len(layers):
            yield from pieces
            return
        yield from through((out for p in pieces for out in layers[depth].feed(p)), depth + 1)

    yield from through(chunks, 0)
    for layer in layers:
        layer.finish()

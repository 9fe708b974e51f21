"""Content decoding with a cap on the decoded size (httpx inflates without one)."""

from __future__ import annotations

import zlib

import httpx

from connectors.http._errors import ResponseTooLarge

#: The content-codings we can inflate with a bound; only these are advertised.
SUPPORTED_ENCODINGS = ("gzip", "deflate")
ACCEPT_ENCODING = ", ".join(SUPPORTED_ENCODINGS)

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_WBITS = -zlib.MAX_WBITS


class BoundedDecoder:
    """Turns wire chunks into body bytes, refusing to produce more than `limit` bytes."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise httpx.DecodingError(f"unsupported Content-Encoding {content_encoding!r}")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._produced = 0
        self._started = False
        self._first = b""
        self._inflater: zlib._Decompress | None = None
        if self._coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(_GZIP_WBITS)
        elif self._coding == "deflate":
            self._inflater = zlib.decompressobj(_ZLIB_WBITS)

    @property
    def produced(self) -> int:
        """Decoded bytes so far."""
        return self._produced

    def feed(self, data: bytes) -> bytes:
        """Decode one chunk; raises `ResponseTooLarge` past the limit."""
        if self._inflater is None:
            self._count(len(data))
            return data
        if self._coding == "deflate" and not self._started:
            self._first += data
        try:
            return self._inflate(data)
        except zlib.error as exc:
            if self._coding != "deflate" or self._started:
                raise httpx.DecodingError(f"corrupt {self._coding} body: {exc}") from exc
        # Some servers send raw deflate without the zlib wrapper the RFC asks for.
        self._started = True
        self._inflater = zlib.decompressobj(_RAW_WBITS)
        first, self._first = self._first, b""
        try:
            return self._inflate(first)
        except zlib.error as exc:
            raise httpx.DecodingError(f"corrupt deflate body: {exc}") from exc

    def flush(self) -> bytes:
        """Whatever the inflater still holds at the end of the body."""
        if self._inflater is None:
            return b""
        tail = self._inflater.flush()
        self._count(len(tail))
        return tail

    def _inflate(self, data: bytes) -> bytes:
        assert self._inflater is not None
        out: list[bytes] = []
        while data:
            # Ask for one byte more than allowed: getting it proves the body is too large
            # without ever holding more than the limit.
            budget = self._limit - self._produced + 1
            piece = self._inflater.decompress(data, budget)
            self._count(len(piece))
            if piece:
                self._started = True
                self._first = b""
            out.append(piece)
            if self._inflater.eof:
                data = self._next_member(self._inflater.unused_data)
            else:
                data = self._inflater.unconsumed_tail
        return b"".join(out)

    def _next_member(self, rest: bytes) -> bytes:
        """Continue with the next gzip member; trailing NUL padding and junk end the body."""
        if self._coding == "deflate" or not rest.strip(b"\x00"):
            return b""
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        return rest

    def _count(self, size: int) -> None:
        self._produced += size
        if self._produced > self._limit:
            raise ResponseTooLarge("decoded", self._limit)

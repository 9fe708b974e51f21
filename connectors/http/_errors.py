"""Typed failures of the guarded client; each one reads as a single line."""

from __future__ import annotations

import httpx


def redact_url(url: httpx.URL | str) -> str:
    """The URL without credentials, query or fragment: API keys and tokens live there."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except httpx.InvalidURL:
        return "<invalid URL>"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}" if parsed.scheme else parsed.path


class FetchError(httpx.RequestError):
    """A request the guard refused or cut short; `str()` is a one-line reason."""

    #: Seconds the caller should wait before trying this host again, when known.
    retry_after: float | None = None
    #: True when the request certainly never reached the server: it was refused before any
    #: connection was opened, so even a non-idempotent request may be sent again.
    never_sent: bool = False

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class BlockedAddress(FetchError):
    """The destination is not allowed: a private or special address, or a bad scheme."""

    never_sent = True

    def __init__(
        self,
        reason: str,
        *,
        address: str | None = None,
        host: str | None = None,
        request: httpx.Request | None = None,
    ) -> None:
        self.reason = reason
        self.address = address
        self.host = host
        where = host if address is None or host == address else f"{host} ({address})"
        prefix = f"refused {where}: " if where else "refused: "
        super().__init__(prefix + reason, request=request)


class ResponseTooLarge(FetchError):
    """The body went past the wire or decoded byte cap."""

    def __init__(self, what: str, limit: int, *, request: httpx.Request | None = None) -> None:
        self.what = what
        self.limit = limit
        super().__init__(f"response too large: {what} body over {limit:,} bytes", request=request)


class DeadlineExceeded(FetchError):
    """The whole exchange (connect, headers, body, retries) took longer than the deadline."""

    def __init__(self, seconds: float, *, request: httpx.Request | None = None) -> None:
        self.seconds = seconds
        super().__init__(f"no complete response within {seconds:g} s", request=request)


class UpstreamError(FetchError):
    """The server answered with an error status."""

    def __init__(
        self,
        status: int,
        url: str,
        *,
        retry_after: float | None = None,
        detail: str = "",
        request: httpx.Request | None = None,
    ) -> None:
        self.status = status
        self.url = redact_url(url)
        self.retry_after = retry_after
        message = f"{self.url} answered HTTP {status}"
        if retry_after is not None:
            message += f", retry after {retry_after:g} s"
        if detail:
            message += f": {detail}"
        super().__init__(message, request=request)


class RateLimited(FetchError):
    """The host asked us to wait longer than one request may wait; try again later."""

    never_sent = True

    def __init__(
        self, host: str, retry_after: float, *, request: httpx.Request | None = None
    ) -> None:
        self.host = host
        self.retry_after = retry_after
        super().__init__(f"{host} is rate limited for {retry_after:.0f} s more", request=request)


class InvalidPayload(FetchError):
    """The body arrived whole but is not what it claims to be (bad JSON, not a feed)."""


# httpx errors raised before a single byte of the request left: no connection was ever opened
# (the name did not resolve, the connection was refused or timed out, the TLS handshake
# failed), the pool had no connection to give, or the URL was unusable.
_BEFORE_SENDING: tuple[type[httpx.HTTPError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


def never_sent(exc: BaseException) -> bool:
    """True when `exc`, or an error it was raised from, says a request certainly never left.

    For a request that failed this way the server cannot have seen it, so even a create may be
    sent again. Everything else (a read timeout, a dropped connection, the deadline) leaves the
    outcome unknown and answers False.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FetchError):
            if current.never_sent:
                return True
        elif isinstance(current, _BEFORE_SENDING):
            return True
        current = current.__cause__
    return False

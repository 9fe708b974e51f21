"""The transport under every guarded client: address checks at connect time, caps, retries."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import socket
import ssl
import time
import typing
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import anyio
import httpcore
import httpx

from connectors.http._addresses import AllowList, check_address, deny_reason, parse_ip
from connectors.http._decode import ACCEPT_ENCODING, BoundedDecoder
from connectors.http._errors import (
    BlockedAddress,
    DeadlineExceeded,
    FetchError,
    RateLimited,
    ResponseTooLarge,
)
from connectors.http._policy import HttpPolicy
from connectors.http._ratelimit import HostThrottle, host_key

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
Sleep = Callable[[float], Awaitable[None]]

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_NO_BODY_STATUSES = frozenset({204, 304})
_DROPPED_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

_HTTPCORE_ERRORS: tuple[tuple[type[Exception], type[httpx.RequestError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Re-raise httpcore's exceptions as the httpx ones callers already handle."""
    try:
        yield
    except FetchError as exc:
        exc.request = request
        raise
    except Exception as exc:
        for source, target in _HTTPCORE_ERRORS:
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__, request=request) from exc
        raise


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the system resolver; addresses in the order it gives them."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
    seen: dict[str, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, checks every address, then connects to exactly the address it checked."""

    def __init__(self, allow: AllowList, resolver: Resolver) -> None:
        self._allow = allow
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend signature)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first admitted address of `host`; refuse if none is admitted."""
        last_error = httpcore.ConnectError(f"cannot connect to {host}")
        for address in await self._admitted(host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error

    async def _admitted(self, host: str, port: int) -> list[str]:
        literal = parse_ip(host)
        if literal is not None:
            check_address(literal, self._allow, port=port)
            return [str(literal)]
        try:
            with anyio.fail_after(10):
                addresses = await self._resolver(host, port)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no addresses")
        if self._allow.admits_name(host, port):
            return list(addresses)
        admitted: list[str] = []
        refusal: str | None = None
        for address in addresses:
            reason = deny_reason(parse_ip(address) or _unparseable(address))
            if reason is None:
                admitted.append(address)
            elif refusal is None:
                refusal = f"resolves to {address}, {reason}"
        if not admitted:
            raise BlockedAddress(refusal or "no usable address", host=host)
        return admitted

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's backend signature)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are local resources: never reachable through the guarded client."""
        raise BlockedAddress("unix sockets are not allowed", host=path)

    async def sleep(self, seconds: float) -> None:
        """Delegate to anyio."""
        await self._inner.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """certifi's CA bundle with hostname checks; loading it costs ~50 ms, so share one."""
    return httpx.create_ssl_context(trust_env=False)


def _unparseable(address: str) -> typing.NoReturn:
    raise BlockedAddress("resolver returned something that is not an address", host=address)


@dataclass
class _Exchange:
    """One answered attempt, body already read and bounded."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    extensions: dict[str, typing.Any]
    text_headers: dict[str, str]  # `headers` as `_str_headers` gives them, computed once


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over a guarded connection pool that caps, times and retries."""

    def __init__(
        self,
        policy: HttpPolicy,
        *,
        resolver: Resolver = system_resolver,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy
        # Retry planning and host waits use one injectable clock, so tests can skip sleeps;
        # the deadline itself is always enforced in real time.
        self.throttle = HostThrottle(clock)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        # Weak values: a host's semaphore lives only while some request holds or awaits it,
        # so a long-lived client polling many hosts does not accumulate them.
        self._semaphores: weakref.WeakValueDictionary[str, asyncio.Semaphore] = (
            weakref.WeakValueDictionary()
        )
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or _default_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(policy.allow, resolver),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send with retries inside the deadline; return a response with its body read."""
        if request.url.scheme not in ("http", "https"):
            scheme = request.url.scheme or "no scheme"
            raise BlockedAddress(
                f"only http and https URLs are allowed, not {scheme}",
                host=request.url.host,
                request=request,
            )
        body = await request.aread()
        with anyio.move_on_after(self.policy.deadline) as scope:
            return await self._send_with_retries(
                request, body, self._clock() + self.policy.deadline
            )
        assert scope.cancelled_caught
        raise DeadlineExceeded(self.policy.deadline, request=request)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._pool.aclose()

    async def _send_with_retries(
        self, request: httpx.Request, body: bytes, deadline: float
    ) -> httpx.Response:
        key = host_key(request.url)
        attempt = 0
        while True:
            await self._wait_for_host(key, request, deadline)
            try:
                exchange = await self._limited_exchange(key, request, body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                # Nothing was sent yet, so even a POST may be retried.
                delay = self._backoff(attempt, None)
                if attempt >= self.policy.retries or not self._fits(delay, deadline):
                    raise
            else:
                hint = self.throttle.observe(key, exchange.status, exchange.text_headers)
                delay = self._backoff(attempt, hint)
                if not self._should_retry(
                    request.method, exchange.status, attempt, hint, delay, deadline
                ):
                    return _to_response(request, exchange)
            attempt += 1
            await self._sleep(delay)

    def _should_retry(
        self,
        method: str,
        status: int,
        attempt: int,
        hint: float | None,
        delay: float,
        deadline: float,
    ) -> bool:
        if status not in RETRY_STATUSES or attempt >= self.policy.retries:
            return False
        # A 429 means the request was not processed; other errors only for idempotent methods.
        if status != 429 and method.upper() not in IDEMPOTENT_METHODS:
            return False
        if hint is not None and hint > self.policy.max_retry_wait:
            return False
        return self._fits(delay, deadline)

    def _backoff(self, attempt: int, hint: float | None) -> float:
        """Full jitter, but never shorter than what the server asked for."""
        ceiling = min(self.policy.max_retry_wait, self.policy.retry_base * 2**attempt)
        return max(hint or 0.0, self._rng.uniform(0, ceiling))

    def _fits(self, delay: float, deadline: float) -> bool:
        return self._clock() + delay < deadline

    async def _wait_for_host(self, key: str, request: httpx.Request, deadline: float) -> None:
        wait = self.throttle.delay(key)
        if wait <= 0:
            return
        if wait > self.policy.max_retry_wait or not self._fits(wait, deadline):
            raise RateLimited(key, wait, request=request)
        await self._sleep(wait)

    async def _limited_exchange(self, key: str, request: httpx.Request, body: bytes) -> _Exchange:
        semaphore = self._semaphores.get(key)
        if semaphore is None:
            semaphore = asyncio.Semaphore(self.policy.per_host_concurrency)
            self._semaphores[key] = semaphore
        async with semaphore:
            with _httpx_errors(request):
                return await self._exchange(request, body)

    async def _exchange(self, request: httpx.Request, body: bytes) -> _Exchange:
        headers = [
            (name, value)
            for name, value in request.headers.raw
            if name.lower() != b"accept-encoding"
        ]
        wanted = request.headers.get("accept-encoding", "")
        headers.append(
            (b"Accept-Encoding", b"identity" if wanted == "identity" else ACCEPT_ENCODING.encode())
        )
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=headers,
            content=body,
            extensions=request.extensions,
        )
        response = await self._pool.handle_async_request(core_request)
        text_headers = _str_headers(response.headers)
        try:
            content = await self._read_body(request, response, text_headers)
        finally:
            await response.aclose()
        extensions = {k: v for k, v in response.extensions.items() if k != "network_stream"}
        return _Exchange(response.status, response.headers, content, extensions, text_headers)

    async def _read_body(
        self, request: httpx.Request, response: httpcore.Response, headers: dict[str, str]
    ) -> bytes:
        if request.method.upper() == "HEAD" or response.status in _NO_BODY_STATUSES:
            return b""
        self._refuse_declared_length(headers.get("content-length"), headers.get("content-encoding"))
        decoder = BoundedDecoder(headers.get("content-encoding"), self.policy.max_decoded_bytes)
        wire = 0
        body = bytearray()
        assert isinstance(response.stream, typing.AsyncIterable)
        async for chunk in response.stream:
            wire += len(chunk)
            if wire > self.policy.max_wire_bytes:
                raise ResponseTooLarge("wire", self.policy.max_wire_bytes)
            body += decoder.feed(chunk)
        body += decoder.flush()
        return bytes(body)

    def _refuse_declared_length(self, length: str | None, encoding: str | None) -> None:
        """Refuse before reading when the declared length is already over a cap."""
        if length is None or not length.strip().isdigit():
            return
        declared = int(length)
        if declared > self.policy.max_wire_bytes:
            raise ResponseTooLarge("wire", self.policy.max_wire_bytes)
        if not encoding and declared > self.policy.max_decoded_bytes:
            raise ResponseTooLarge("decoded", self.policy.max_decoded_bytes)


def _str_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-cased header names; repeated headers joined as HTTP allows."""
    merged: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        merged[key] = f"{merged[key]}, {text}" if key in merged else text
    return merged


def _to_response(request: httpx.Request, exchange: _Exchange) -> httpx.Response:
    """An httpx response whose body is the decoded, bounded content."""
    if request.method.upper() == "HEAD":
        headers = exchange.headers
    else:
        # The body is already decoded: keeping Content-Encoding would make httpx inflate again.
        headers = [
            (n, v)
            for n, v in exchange.headers
            if n.lower().decode("latin-1") not in _DROPPED_HEADERS
        ]
    return httpx.Response(
        status_code=exchange.status,
        headers=headers,
        content=exchange.body,
        extensions=exchange.extensions,
        request=request,
    )

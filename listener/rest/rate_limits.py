"""Rate limits per caller: a token (by a hash of the string, no database), else an address.

A caller may make `LUISTER_RATE_LIMIT_REQUESTS` requests per window of
`LUISTER_RATE_LIMIT_WINDOW_SECONDS`; the window starts with the caller's first request (a fixed
window per caller, so a burst cannot straddle two aligned windows to get double). Every answer
carries the IETF `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until
the window ends) headers; a request over the limit gets 429 problem+json with `Retry-After`.

With `LUISTER_REDIS_URL` every API process counts in Redis (one Lua script: INCR, set the
expiry on the first hit, read what is left), so replicas share one count. Without Redis, or
while Redis cannot be reached, the process counts alone (a Redis failure never refuses a
request). Health, readiness and the API docs are exempt.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listener import metrics
from listener.accounts.service import token_is_well_formed
from listener.rest.problems import problem_response
from listener.settings import Settings

log = logging.getLogger(__name__)

#: Paths no limit applies to: probes and the documentation (and its assets).
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect"})
EXEMPT_PREFIXES = ("/docs/",)
KEY_PREFIX = "luister:ratelimit:"
#: After Redis fails, requests are counted in the process for this long before it is tried again.
REDIS_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Hit:
    """A caller's count in its current window after this request."""

    count: int
    reset_seconds: float


class Counter(Protocol):
    """Counts one more request for `key` in a window of `window` seconds."""

    async def hit(self, key: str, window: int) -> Hit: ...

    async def close(self) -> None: ...


class MemoryCounter:
    """Counts in this process; expired windows are swept as new ones start."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.windows: dict[str, tuple[int, float]] = {}
        self._next_sweep = 0.0

    async def hit(self, key: str, window: int) -> Hit:
        now = self.clock()
        if now >= self._next_sweep:
            self.windows = {k: v for k, v in self.windows.items() if v[1] > now}
            self._next_sweep = now + window
        count, ends = self.windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window
        count += 1
        self.windows[key] = (count, ends)
        return Hit(count, ends - now)

    async def close(self) -> None:
        self.windows.clear()


# INCR the caller's key; the first hit starts its window (PEXPIRE); answer count and ms left.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisCounter:
    """Counts in Redis, shared by every process using it; falls back to memory when it fails."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self.script = self.redis.register_script(_HIT_SCRIPT)
        self.fallback = MemoryCounter()
        self._retry_at: float | None = None  # while Redis fails, it is asked again after this

    async def hit(self, key: str, window: int) -> Hit:
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            return await self.fallback.hit(key, window)
        try:
            count, ttl_ms = await self.script(keys=[KEY_PREFIX + key], args=[window * 1000])
        except Exception as exc:  # Redis down: count in this process, never refuse for it
            if self._retry_at is None:
                log.warning("rate limits count per process: Redis failed (%s)", exc)
            self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
            return await self.fallback.hit(key, window)
        if self._retry_at is not None:
            log.info("rate limits count in Redis again")
        self._retry_at = None
        return Hit(int(count), max(int(ttl_ms), 0) / 1000)

    async def close(self) -> None:
        await self.redis.aclose()


def _token_key(token: str) -> str:
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def caller_key(scope: Scope, *, token_cookie: str | None = None) -> str:
    """`t:<sha256 of the token>` for a well-formed bearer token (else one in the cookie named
    `token_cookie`: a desk session), else `a:<client address>`.

    A signed-in desk counts per session, not per address: a team behind one office address
    must not share one allowance, and a page with its live refreshes makes many requests.
    """
    cookies: list[str] = []
    for name, value in scope.get("headers", ()):
        lowered = name.lower()
        if lowered == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            if scheme.lower() == "bearer" and token_is_well_formed(token):
                return _token_key(token)
            return _address_key(scope)  # a bad Authorization header counts against the address
        if lowered == b"cookie" and token_cookie is not None:
            cookies.append(value.decode("latin-1"))  # HTTP/2 may send several
    if cookies:
        token = cookie_parser("; ".join(cookies)).get(token_cookie or "", "")
        if token_is_well_formed(token):
            return _token_key(token)
    return _address_key(scope)


def _address_key(scope: Scope) -> str:
    client = scope.get("client")
    host = client[0] if client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"a:{host}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"a:{address.ipv4_mapped}"
        # One IPv6 host usually holds a whole /64: count the network, not each address.
        return f"a:{ipaddress.ip_network(f'{address}/64', strict=False).network_address}/64"
    return f"a:{address}"


def is_exempt(path: str, prefixes: tuple[str, ...] = ()) -> bool:
    """Health, readiness and the documentation are never limited, nor paths under `prefixes`
    (what the app that installs the limits names, such as its static files)."""
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES + prefixes)


def make_counter(settings: Settings) -> Counter:
    """Redis when it is configured, else this process's memory."""
    if settings.redis_url is not None:
        return RedisCounter(settings.redis_url.get_secret_value())
    return MemoryCounter()


class RateLimits:
    """The ASGI middleware: count the caller's request, add the headers, refuse over the limit."""

    def __init__(
        self,
        app: ASGIApp,
        counter: Counter | None = None,
        token_cookie: str | None = None,
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.counter = counter
        self.token_cookie = token_cookie
        self.exempt_prefixes = exempt_prefixes

    def _settings(self, scope: Scope) -> Settings | None:
        settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
        return settings if isinstance(settings, Settings) else None

    def _counter(self, scope: Scope, settings: Settings) -> Counter:
        if self.counter is None:
            self.counter = make_counter(settings)
            state = getattr(scope.get("app"), "state", None)
            if state is not None:
                state.rate_limit_counter = self.counter  # closed with the app (lifespan)
        return self.counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self._settings(scope)
        if (
            scope["type"] != "http"
            or settings is None
            or not settings.rate_limit_enabled
            or is_exempt(str(scope.get("path", "")), self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        limit, window = settings.rate_limit_requests, settings.rate_limit_window_seconds
        key = caller_key(scope, token_cookie=self.token_cookie)
        hit = await self._counter(scope, settings).hit(key, window)
        reset = max(1, math.ceil(hit.reset_seconds))
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - hit.count)),
            "RateLimit-Reset": str(reset),
        }
        if hit.count > limit:
            metrics.RATE_LIMITED.inc()
            response = problem_response(
                429,
                "Too many requests",
                f"at most {limit} requests per {window} s; try again in {reset} s",
                slug="rate-limited",
                headers=headers | {"Retry-After": str(reset)},
                limit=limit,
                window_seconds=window,
                retry_after=reset,
            )
            await response(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, _send)


def install_rate_limits(
    app: FastAPI, *, token_cookie: str | None = None, exempt_prefixes: tuple[str, ...] = ()
) -> None:
    """Add the middleware (limits come from `app.state.settings` at request time); a session
    token in the cookie `token_cookie` counts as that token, as a bearer token does, and
    paths under `exempt_prefixes` (static files) are not counted."""
    app.add_middleware(RateLimits, token_cookie=token_cookie, exempt_prefixes=exempt_prefixes)


async def close_rate_limits(app: FastAPI) -> None:
    """Close the counter's Redis connection (from the app's lifespan)."""
    counter: Counter | None = getattr(app.state, "rate_limit_counter", None)
    if counter is not None:
        await counter.close()

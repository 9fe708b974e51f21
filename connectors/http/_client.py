"""The guarded client factory and the `fetch` convenience connectors use."""

from __future__ import annotations

import json
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from connectors.http._decode import ACCEPT_ENCODING
from connectors.http._errors import (
    DeadlineExceeded,
    FetchError,
    InvalidPayload,
    UpstreamError,
    redact_url,
)
from connectors.http._policy import HttpPolicy
from connectors.http._ratelimit import HostThrottle, host_key, server_wait
from connectors.http._transport import GuardedTransport, Resolver, Sleep, system_resolver

# Headers that may follow a redirect to another host; everything else may be a credential.
_CROSS_HOST_HEADERS = frozenset(
    {"accept", "accept-encoding", "accept-language", "user-agent", "host", "content-type"}
)


class GuardedClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` whose every request goes through the guarded transport."""

    def __init__(self, policy: HttpPolicy, transport: GuardedTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.policy = policy
        self.throttle = transport.throttle

    def _redirect_headers(
        self, request: httpx.Request, url: httpx.URL, method: str
    ) -> httpx.Headers:
        """Headers for a redirect: to another host, only harmless ones survive."""
        # httpx itself drops only Authorization, but API keys also travel in other headers
        # (Discourse's Api-Key, X-API-Key); a redirect must not hand them to a third party.
        headers = super()._redirect_headers(request, url, method)
        if url.host.lower() != request.url.host.lower():
            for name in list(headers.keys()):
                if name.lower() not in _CROSS_HOST_HEADERS:
                    del headers[name]
        return headers


def guarded_client(
    policy: HttpPolicy | None = None,
    *,
    resolver: Resolver = system_resolver,
    sleep: Sleep = anyio.sleep,
    clock: Callable[[], float] = time.monotonic,
    ssl_context: ssl.SSLContext | None = None,
    rng: random.Random | None = None,
    headers: Mapping[str, str] | None = None,
) -> GuardedClient:
    """A client for all egress; use as `async with guarded_client(policy) as client:`.

    `resolver`, `sleep`, `clock` and `rng` exist for tests; production passes only `policy`
    (and `ssl_context` for a private CA).
    """
    policy = policy or HttpPolicy()
    transport = GuardedTransport(
        policy,
        resolver=resolver,
        sleep=sleep,
        clock=clock,
        ssl_context=ssl_context,
        rng=rng,
    )
    base_headers = {"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
    return GuardedClient(
        policy,
        transport,
        headers={**base_headers, **(headers or {})},
        timeout=httpx.Timeout(
            connect=policy.connect_timeout,
            read=policy.read_timeout,
            write=policy.read_timeout,
            pool=policy.connect_timeout,
        ),
        follow_redirects=True,
        max_redirects=policy.max_redirects,
        # Environment proxies would resolve names themselves, behind the address check.
        trust_env=False,
    )


def throttle_of(client: httpx.AsyncClient) -> HostThrottle | None:
    """The per-host wait registry of a guarded client (None for a plain httpx client)."""
    return client.throttle if isinstance(client, GuardedClient) else None


def note_backoff(client: httpx.AsyncClient, url: httpx.URL | str, seconds: float) -> None:
    """Make the client wait `seconds` before its next request to `url`'s host.

    For waits a platform announces in the body, such as Stack Exchange's `backoff` field.
    """
    throttle = throttle_of(client)
    if throttle is not None and seconds > 0:
        throttle.defer(host_key(url), seconds)


@dataclass(frozen=True)
class FetchedResponse:
    """A complete response: status, headers, the size-checked body and the final URL."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: str

    def json(self) -> Any:
        """The body as JSON; `InvalidPayload` with a one-line reason when it is not."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidPayload(f"{redact_url(self.url)} sent invalid JSON: {exc}") from exc

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none), never failing."""
        charset = httpx.Headers(self.headers).get("content-type", "")
        encoding = "utf-8"
        for part in charset.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                encoding = value.strip("\"'")
        try:
            return self.body.decode(encoding, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str | int] | None = None,
    json_body: Any = None,
) -> FetchedResponse:
    """Request `url` and return the whole response; raise `UpstreamError` for 4xx/5xx.

    304 Not Modified is returned, not raised. The policy deadline also bounds the redirect
    chain as a whole.
    """
    deadline = client.policy.deadline if isinstance(client, GuardedClient) else None
    with anyio.move_on_after(deadline) as scope:
        response = await client.request(method, url, headers=headers, params=params, json=json_body)
    if scope.cancelled_caught:
        raise DeadlineExceeded(deadline or 0.0)
    final_url = str(response.url)
    if response.status_code >= 400:
        raise UpstreamError(
            response.status_code,
            final_url,
            retry_after=server_wait(response.status_code, response.headers),
            detail=_snippet(response),
            request=response.request,
        )
    return FetchedResponse(response.status_code, response.headers, response.content, final_url)


def _snippet(response: httpx.Response, limit: int = 120) -> str:
    """The start of an error body on one line, for the message a user sees."""
    text = " ".join(response.text[: limit * 2].split())
    return text[:limit] + ("…" if len(text) > limit else "")


def describe_error(exc: BaseException) -> str:
    """A one-line, user-facing reason for any failure of a guarded request."""
    if isinstance(exc, FetchError):
        return str(exc)
    url = _request_url(exc)
    where = f" ({url})" if url else ""
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects{where}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out: {type(exc).__name__}{where}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect{where}: {_first_line(exc)}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP exchange{where}: {_first_line(exc)}"
    if isinstance(exc, httpx.DecodingError):
        return f"undecodable response body{where}: {_first_line(exc)}"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}{where}: {_first_line(exc)}"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _request_url(exc: BaseException) -> str | None:
    try:
        request = exc.request if isinstance(exc, httpx.RequestError) else None
    except RuntimeError:  # httpx raises when no request was attached
        return None
    return redact_url(request.url) if request is not None else None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

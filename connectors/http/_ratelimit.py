"""What servers say about waiting, and a per-host "not before" registry that remembers it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# Honour a server's wait up to a day (as Media Cloud does); beyond that it is likely a bug.
MAX_HONOURED_WAIT = 86_400.0

# Unix timestamps (GitHub's x-ratelimit-reset) versus delta seconds (Reddit, IETF drafts).
_EPOCH_THRESHOLD = 1_000_000_000

_REMAINING_HEADERS = ("x-ratelimit-remaining", "ratelimit-remaining")
_RESET_HEADERS = ("x-ratelimit-reset", "ratelimit-reset")
_STRUCTURED_PARAM = re.compile(r"(?:^|[;,\s])(r|t|remaining|reset)\s*=\s*([0-9.]+)")


def _now() -> datetime:
    return datetime.now(UTC)


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value (delta seconds or an HTTP-date)."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_HONOURED_WAIT)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _clamp((when - (now or _now())).total_seconds())


def parse_reset(value: str, now: datetime | None = None) -> float | None:
    """Seconds until a rate-limit window resets: delta seconds, a Unix time or an ISO date."""
    value = value.strip()
    now = now or _now()
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number >= _EPOCH_THRESHOLD:
            return _clamp(number - now.timestamp())
        return _clamp(number)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return parse_retry_after(value, now)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return _clamp((when - now).total_seconds())


def _clamp(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_HONOURED_WAIT)


def _exhausted_window(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until reset when a rate-limit header says nothing is left."""
    for remaining_name, reset_name in zip(_REMAINING_HEADERS, _RESET_HEADERS, strict=True):
        remaining = headers.get(remaining_name)
        reset = headers.get(reset_name)
        if remaining is None or reset is None:
            continue
        try:
            left = float(remaining)
        except ValueError:
            continue
        if left < 1:  # Reddit reports floats such as "0.0"
            return parse_reset(reset, now)
    # IETF draft 08+: `RateLimit: "default";r=0;t=30`; earlier drafts `remaining=0, reset=30`.
    structured = headers.get("ratelimit")
    if structured:
        params = dict(_STRUCTURED_PARAM.findall(structured))
        left_text = params.get("r", params.get("remaining"))
        reset_text = params.get("t", params.get("reset"))
        if left_text is not None and reset_text is not None and float(left_text) < 1:
            return _clamp(float(reset_text))
    return None


def server_wait(
    status: int, headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """How long the server asked us to wait before the next request, if it said so."""
    now = now or _now()
    retry_after = headers.get("retry-after")
    if retry_after is not None and (status == 429 or status >= 500):
        parsed = parse_retry_after(retry_after, now)
        if parsed is not None:
            return parsed
    return _exhausted_window(headers, now)


def host_key(url: httpx.URL | str) -> str:
    """The key rate limits and concurrency are kept under: `host:port`."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.host.lower()}:{port}"


class HostThrottle:
    """Per-host "not before" times learned from rate-limit headers or set by connectors.

    Connectors use `defer` for waits announced in a body, such as Stack Exchange's `backoff`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._not_before: dict[str, float] = {}

    def defer(self, key: str, seconds: float) -> None:
        """Send nothing to `key` (see `host_key`) for `seconds` from now."""
        until = self._clock() + _clamp(seconds)
        self._not_before[key] = max(self._not_before.get(key, 0.0), until)

    def delay(self, key: str) -> float:
        """Seconds left before `key` may be contacted again (0 when free)."""
        until = self._not_before.get(key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._not_before[key]
            return 0.0
        return left

    def observe(self, key: str, status: int, headers: Mapping[str, str]) -> float | None:
        """Remember any wait a response announces; return it."""
        wait = server_wait(status, headers)
        if wait:
            self.defer(key, wait)
        return wait

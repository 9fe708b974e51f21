"""The guarded HTTP client: every outbound request of Luister goes through it.

It checks the resolved address at connect time and connects to exactly that address (so DNS
rebinding and redirects into the private network are refused), caps wire and decoded bytes,
bounds each request by a deadline, retries 429/5xx with full jitter while honouring
`Retry-After` and rate-limit headers, and limits concurrency per host. Users type the URLs
Luister fetches, so server-side request forgery is the first threat it stands against.
"""

from connectors.http._addresses import AllowList, IPAddress, check_address
from connectors.http._client import (
    FetchedResponse,
    GuardedClient,
    describe_error,
    fetch,
    guarded_client,
    note_backoff,
    throttle_of,
)
from connectors.http._decode import SUPPORTED_ENCODINGS
from connectors.http._errors import (
    BlockedAddress,
    DeadlineExceeded,
    FetchError,
    InvalidPayload,
    RateLimited,
    ResponseTooLarge,
    UpstreamError,
    never_sent,
    redact_url,
)
from connectors.http._policy import HttpPolicy, MiB, user_agent
from connectors.http._ratelimit import (
    HostThrottle,
    host_key,
    parse_reset,
    parse_retry_after,
    server_wait,
)
from connectors.http._transport import GuardedTransport, Resolver, system_resolver

__all__ = [
    "SUPPORTED_ENCODINGS",
    "AllowList",
    "BlockedAddress",
    "DeadlineExceeded",
    "FetchError",
    "FetchedResponse",
    "GuardedClient",
    "GuardedTransport",
    "HostThrottle",
    "HttpPolicy",
    "IPAddress",
    "InvalidPayload",
    "MiB",
    "RateLimited",
    "Resolver",
    "ResponseTooLarge",
    "UpstreamError",
    "check_address",
    "describe_error",
    "fetch",
    "guarded_client",
    "host_key",
    "never_sent",
    "note_backoff",
    "parse_reset",
    "parse_retry_after",
    "redact_url",
    "server_wait",
    "system_resolver",
    "throttle_of",
    "user_agent",
]

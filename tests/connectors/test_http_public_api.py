"""The public surface of `connectors.http` is what we mean it to be, and `connectors` is pure."""

from __future__ import annotations

import subprocess
import sys

import connectors.http
from connectors.http import UpstreamError, redact_url

PUBLIC = {
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
    "SUPPORTED_ENCODINGS",
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
}


def test_public_surface_is_intended() -> None:
    assert set(connectors.http.__all__) == PUBLIC
    assert all(hasattr(connectors.http, name) for name in PUBLIC)


def test_errors_never_show_query_strings_or_credentials() -> None:
    url = "https://user:pw@api.stackexchange.com/2.3/search?key=SECRET&access_token=T0K#x"
    assert redact_url(url) == "https://api.stackexchange.com/2.3/search"
    message = str(UpstreamError(502, url))
    assert "SECRET" not in message and "pw" not in message and "T0K" not in message


def test_connectors_import_nothing_from_the_database_or_upper_layers() -> None:
    code = (
        "import sys, connectors.http, connectors.feeds, connectors.registry;"
        "bad = [m for m in sys.modules if m.split('.')[0] in"
        " ('sqlalchemy', 'listener', 'moderation', 'api')];"
        "print(','.join(bad))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == ""

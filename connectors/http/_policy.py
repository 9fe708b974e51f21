"""The limits every guarded client works within."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

from connectors.http._addresses import AllowList

MiB = 1024 * 1024


@functools.cache  # reading package metadata costs milliseconds; a client is made per poll run
def _luister_version() -> str:
    try:
        return version("luister")
    except PackageNotFoundError:
        return "0"


# Replace the contact URL through settings; `.invalid` makes a forgotten placeholder obvious.
DEFAULT_CONTACT_URL = "https://luister.invalid/bot"


def user_agent(contact_url: str = DEFAULT_CONTACT_URL) -> str:
    """`Luister/<version> (+<contact url>)`, so operators can see who polls them and why."""
    return f"Luister/{_luister_version()} (+{contact_url})"


@dataclass(frozen=True)
class HttpPolicy:
    """Limits and the allow-list of one guarded client; frozen so clients cannot drift."""

    #: Host names, addresses or networks admitted even if private; the only escape hatch.
    allow_hosts: tuple[str, ...] = ()
    max_wire_bytes: int = 15 * MiB
    max_decoded_bytes: int = 15 * MiB
    #: Wall time for one request: connect, headers, body, retries and their sleeps.
    deadline: float = 30.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    user_agent: str = field(default_factory=user_agent)
    max_redirects: int = 5
    retries: int = 3
    #: Full-jitter backoff: attempt n sleeps uniform(0, min(max_retry_wait, retry_base * 2**n)).
    retry_base: float = 0.5
    #: The longest server-requested wait honoured inside one request; longer ones fail fast
    #: with the wait attached, so the source's scheduler backs off instead of a worker.
    max_retry_wait: float = 60.0
    per_host_concurrency: int = 4
    allow: AllowList = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.allow_hosts, str):
            raise TypeError("allow_hosts is a tuple of entries, not one string")
        for name in ("max_wire_bytes", "max_decoded_bytes", "per_host_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.deadline <= 0:
            raise ValueError("deadline must be positive")
        if not 0 <= self.max_redirects <= 20 or self.retries < 0:
            raise ValueError("max_redirects must be 0..20 and retries at least 0")
        object.__setattr__(self, "allow_hosts", tuple(self.allow_hosts))
        object.__setattr__(self, "allow", AllowList.parse(self.allow_hosts))

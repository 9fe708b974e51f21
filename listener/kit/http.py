"""The guarded HTTP client, configured from the settings: the one way Luister reaches out."""

from __future__ import annotations

import httpx

from connectors.http import HttpPolicy, guarded_client, user_agent
from listener.settings import Settings


def http_policy(settings: Settings) -> HttpPolicy:
    """The guarded client's limits from the settings."""
    return HttpPolicy(
        allow_hosts=tuple(settings.http_allow_hosts),
        max_wire_bytes=settings.http_max_bytes,
        max_decoded_bytes=settings.http_max_bytes,
        deadline=settings.http_deadline_seconds,
        user_agent=user_agent(settings.contact_url),
    )


def make_client(settings: Settings) -> httpx.AsyncClient:
    """A guarded client; a process keeps one (`app.state.http_client`) and closes it at exit."""
    return guarded_client(http_policy(settings))

"""Which connector serves which source kind.

Platform connectors add themselves to `CONNECTORS` below (one line each); nothing else here
needs to change.
"""

from __future__ import annotations

from typing import Any

from connectors.base import Connector
from connectors.bluesky import BlueskyConnector
from connectors.discourse import DiscourseConnector
from connectors.feeds import FeedConnector
from connectors.hackernews import HackerNewsConnector
from connectors.lemmy import LemmyConnector
from connectors.mastodon import MastodonConnector
from connectors.reddit import RedditConnector
from connectors.stackexchange import StackExchangeConnector

# Any: each connector declares its own cursor TypedDict; the poller passes stored JSON through.
CONNECTORS: dict[str, type[Connector[Any]]] = {
    "rss": FeedConnector,
    "mastodon": MastodonConnector,
    "bluesky": BlueskyConnector,
    "reddit": RedditConnector,
    "hackernews": HackerNewsConnector,
    "stackexchange": StackExchangeConnector,
    "discourse": DiscourseConnector,
    "lemmy": LemmyConnector,
}


class UnknownKind(ValueError):
    """A source kind no connector serves."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(f"unknown source kind {kind!r}; expected one of {', '.join(list_kinds())}")


def get_connector(kind: str) -> Connector[Any]:
    """A connector for `kind` (connectors are stateless, so a fresh one is as good as any)."""
    try:
        connector_class = CONNECTORS[kind.strip().lower()]
    except KeyError:
        raise UnknownKind(kind) from None
    return connector_class()


def list_kinds() -> list[str]:
    """Every source kind that has a connector, sorted."""
    return sorted(CONNECTORS)

"""What the sources API sends and accepts; credentials are write-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connectors.registry import get_connector
from listener.rest.patch import PatchModel
from listener.sources.credentials import masked_config
from listener.sources.service import SourceStatus

_CONFIG_DOC = (
    "The connector's settings (see GET /api/v1/sources/kinds). A credential may be given as "
    '{"env": "VARIABLE"} to read it from the server\'s environment; credentials are never '
    "returned. `keep` (optional) is a keep-filter: a query (docs/QUERY.md) a poll applies to "
    'each item before storing it, e.g. "(fiets* OR storing) -lang:de"; only matching items '
    "are stored. It sees items before tagging: author:, platform:, lang:, source:, has:link, "
    "followers:, after: and before: work, sentiment:, intent: and topic: are refused (422 "
    "naming the column). Null or an empty text keeps everything."
)


class SourceIn(BaseModel):
    """A new source to listen to."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "rss",
                    "name": "press-feed",
                    "config": {
                        "url": "https://news.example/feed.xml",
                        "keep": '(fietsbaan OR "fiets baan") -vacature',
                    },
                    "poll_interval_seconds": 600,
                }
            ]
        },
    )

    kind: str = Field(examples=["mastodon"])
    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    config: dict[str, Any] = Field(description=_CONFIG_DOC)
    poll_interval_seconds: int = Field(default=300, ge=30, le=86_400)


class SourceUpdate(PatchModel):
    """Changes to a source; fields left out stay (null is refused).

    A new config or poll interval lifts an automatic pause (after failed polls), as staff fixed
    something; a pause by staff stays until the source is resumed. A rename changes nothing else.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "mastodon-support", "poll_interval_seconds": 600}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")
    config: dict[str, Any] | None = Field(default=None, description=_CONFIG_DOC)
    poll_interval_seconds: int | None = Field(default=None, ge=30, le=86_400)


class PauseIn(BaseModel):
    """Why the source is paused."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "platform maintenance tonight"}]}
    )

    reason: str = Field(default="paused by staff", max_length=500)


class SourceOut(BaseModel):
    """A source with its health and counts."""

    id: int
    kind: str
    name: str
    config: dict[str, Any]
    enabled: bool
    paused_reason: str | None
    poll_interval_seconds: int
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    total_polls: int
    mentions: int
    quarantined: int
    last_mention_at: datetime | None
    write_actions: list[str]

    @classmethod
    def of(cls, status: SourceStatus) -> SourceOut:
        """Build from a source status."""
        s = status.source
        try:
            actions = sorted(get_connector(s.kind).write_actions)
        except ValueError:
            actions = []
        return cls(
            id=s.id,
            kind=s.kind,
            name=s.name,
            config=masked_config(s.config) | ({"keep": s.keep_query} if s.keep_query else {}),
            enabled=s.enabled,
            paused_reason=s.paused_reason,
            poll_interval_seconds=s.poll_interval_seconds,
            next_poll_at=s.next_poll_at,
            last_polled_at=s.last_polled_at,
            last_success_at=s.last_success_at,
            last_error=s.last_error,
            consecutive_failures=s.consecutive_failures,
            total_polls=s.total_polls,
            mentions=status.mentions,
            quarantined=status.quarantined,
            last_mention_at=status.last_mention_at,
            write_actions=[str(a) for a in actions],
        )


class KindOut(BaseModel):
    """A kind of source and the settings its connector takes."""

    kind: str
    write_actions: list[str]
    config_schema: dict[str, Any]

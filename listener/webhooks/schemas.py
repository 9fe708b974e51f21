"""Request and response models of the webhook API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from listener.events import EVENT_TYPES
from listener.kit import MAX_DB_INT
from listener.models.events import WebhookDelivery, WebhookSubscription
from listener.query import MAX_QUERY_LENGTH, readable_query
from listener.rest.patch import PatchModel

_URL = Field(
    min_length=8,
    max_length=2000,
    pattern=r"^https?://",
    examples=["https://example.org/hooks/luister"],
)
_EVENTS_EXAMPLE: list[JsonValue] = ["mention.*", "reply.sent", "alert.raised"]


def check_event_patterns(patterns: list[str]) -> list[str]:
    """Event types, `prefix.*` or `*`; unknown ones are refused."""
    cleaned = list(dict.fromkeys(p.strip() for p in patterns))
    prefixes = {t.split(".")[0] for t in EVENT_TYPES}
    for pattern in cleaned:
        if pattern == "*" or pattern in EVENT_TYPES:
            continue
        if pattern.endswith(".*") and pattern[:-2] in prefixes:
            continue
        raise ValueError(
            f"unknown event {pattern!r}: use a type ({', '.join(EVENT_TYPES)}), a prefix such "
            "as 'mention.*', or '*'"
        )
    return cleaned


class WebhookFilter(BaseModel):
    """Which mention events a subscription wants; events not about a mention always pass."""

    model_config = ConfigDict(extra="forbid")

    platform: list[str] | None = Field(default=None, max_length=20, examples=[["mastodon"]])
    source_id: list[int] | None = Field(default=None, max_length=100, examples=[[1, 2]])
    min_priority: int | None = Field(default=None, ge=0, le=100, examples=[60])
    query: str | None = Field(
        default=None,
        max_length=MAX_QUERY_LENGTH,
        description="A query (docs/QUERY.md) the event's mention must match, as it is when the "
        "event is delivered",
        examples=["intent:complaint followers:>1000"],
    )

    @field_validator("query")
    @classmethod
    def _readable_query(cls, value: str | None) -> str | None:
        return readable_query(value)

    @field_validator("platform", "source_id", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | int) else value


class WebhookIn(BaseModel):
    """A new subscription: where to send, which events, and an optional filter."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://example.org/hooks/luister",
                    "events": _EVENTS_EXAMPLE,
                    "filter": {"platform": ["mastodon"], "min_priority": 60},
                }
            ]
        },
    )

    url: str = _URL
    events: list[str] = Field(min_length=1, max_length=50, examples=[_EVENTS_EXAMPLE])
    filter: WebhookFilter | None = None
    description: str | None = Field(default=None, max_length=200)

    _events = field_validator("events")(check_event_patterns)


class WebhookUpdate(PatchModel):
    """Changes to a subscription; fields left out stay (null clears only filter and description)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"enabled": True, "events": ["*"]}]}
    )
    clearable: ClassVar[frozenset[str]] = frozenset({"filter", "description"})

    url: str | None = Field(default=None, min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[str] | None = Field(default=None, min_length=1, max_length=50)
    filter: WebhookFilter | None = None
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_event_patterns(value)


class ReplayIn(BaseModel):
    """Deliver again every event from this id on (in order, with their original webhook-id)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"from_event_id": 1}]}
    )

    from_event_id: int = Field(ge=1, le=MAX_DB_INT)


class WebhookOut(BaseModel):
    """A subscription as the API shows it (never its secret)."""

    id: int
    url: str
    description: str | None
    events: list[str]
    filter: dict[str, Any]
    enabled: bool
    disabled_reason: str | None
    cursor: int = Field(description="The last event id delivered (or skipped as not wanted)")
    attempts: int = Field(description="Failed attempts at the next event")
    failing_since: datetime | None
    next_attempt_at: datetime | None
    previous_secret_until: datetime | None = Field(
        description="Until when the secret before the last rotation also signs"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, sub: WebhookSubscription) -> WebhookOut:
        """From the row."""
        return cls(
            id=sub.id,
            url=sub.url,
            description=sub.description,
            events=list(sub.events),
            filter=dict(sub.filter or {}),
            enabled=sub.enabled,
            disabled_reason=sub.disabled_reason,
            cursor=sub.cursor,
            attempts=sub.attempts,
            failing_since=sub.failing_since,
            next_attempt_at=sub.next_attempt_at,
            previous_secret_until=sub.previous_until,
            created_at=sub.created_at,
            updated_at=sub.updated_at,
        )


class WebhookWithSecret(WebhookOut):
    """A subscription with its signing secret: shown once, at creation and rotation."""

    secret: str = Field(
        description="`whsec_…`: verify `webhook-signature` with it; not shown again"
    )


class DeliveryOut(BaseModel):
    """One delivery attempt."""

    id: int
    event_id: int
    event_type: str
    webhook_id: str
    attempt: int
    ok: bool
    status_code: int | None
    duration_ms: int
    error: str | None
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        """From the row."""
        return cls(
            id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            webhook_id=d.webhook_id,
            attempt=d.attempt,
            ok=d.ok,
            status_code=d.status_code,
            duration_ms=d.duration_ms,
            error=d.error,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
        )


class DeliveryPage(BaseModel):
    """Delivery attempts, newest first."""

    items: list[DeliveryOut]
    next_cursor: str | None

"""What the digest, recipient-list, alert and event endpoints send and accept."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from listener.digest.document import DigestDocument
from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant, IsoWeek, LocalDay
from listener.models import Alert, Delivery, Digest, IntegrationEvent, RecipientList
from listener.query import MAX_QUERY_LENGTH, readable_query
from listener.rest.patch import PatchModel

Lang = Literal["en", "nl"]
_ADDRESS = r"^[^@\s<>,;]+@[^@\s<>,;]+$"


def _names(description: str) -> Any:
    """A list of names to filter by; empty means everything."""
    return Field(default_factory=list, max_length=100, description=description)


def _query_field(description: str) -> Any:
    return Field(
        default=None,
        max_length=MAX_QUERY_LENGTH,
        description=description + " (docs/QUERY.md); empty means no query",
        examples=["storing OR outage"],
    )


def _readable_query(value: str | None) -> str | None:
    """The query with runs of whitespace made one space, None when blank; an unreadable one
    is refused naming its column and what was expected there."""
    readable = readable_query(value)
    return None if readable is None else " ".join(readable.split())


class DigestBuildIn(BaseModel):
    """Which digest to build: a week or a date range, for a list or with explicit filters."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"week": "2026-W47", "language": "nl"}]},
    )

    week: IsoWeek | None = Field(default=None, pattern=r"^\d{4}-?W\d{1,2}$", examples=["2026-W47"])
    first_day: LocalDay | None = None
    last_day: LocalDay | None = None
    timezone: str | None = Field(default=None, description="Default: LUISTER_DIGEST_TIMEZONE")
    recipient_list_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DB_INT,
        description="Use the list's filters and language (and key it to the list)",
    )
    language: Lang = "en"
    topics: list[str] = _names("Only mentions about these topics")
    sources: list[str] = _names("Only mentions from these sources or platforms")
    languages: list[str] = _names("Only mentions in these languages")
    query: str | None = _query_field("Only mentions matching this query")

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        return _readable_query(value)

    @model_validator(mode="after")
    def _one_period(self) -> DigestBuildIn:
        if self.week and (self.first_day or self.last_day):
            raise ValueError("give either week or first_day and last_day, not both")
        if bool(self.first_day) != bool(self.last_day):
            raise ValueError("a date range needs both first_day and last_day")
        return self


class DigestPreviewQuery(DigestBuildIn):
    """A digest to build without storing it, and the form to answer in."""

    format: Literal["json", "md", "html"] = Field(
        default="json", description="json, md (text/markdown) or html (charts embedded)"
    )


class SendIn(BaseModel):
    """Where to send a stored digest."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"recipient_list_id": 2}]}
    )

    recipient_list_id: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="Default: the list the digest was built for"
    )
    force: bool = Field(default=False, description="Send even a quiet digest or to a disabled list")


class DeliveryOut(BaseModel):
    """One email: to whom, how it went, and when the next try is due."""

    id: int
    digest_id: int | None
    alert_id: int | None
    recipient_list_id: int | None
    recipient: str
    language: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        """Build from the table row."""
        return cls.model_validate(d, from_attributes=True)


class DigestSummary(BaseModel):
    """A stored digest without its content, and how its emails are doing."""

    id: int
    key: str
    recipient_list_id: int | None
    period_label: str = Field(examples=["2026-W47"])
    period_start: datetime
    period_end: datetime
    timezone: str
    language: str
    filters: dict[str, list[str] | str] = Field(
        description="topics, sources and languages it was built for, and query when it had one"
    )
    mention_count: int
    quiet: bool
    skipped_reason: str | None
    built_at: datetime
    revised_at: datetime | None = Field(
        default=None, description="When it was rebuilt because late mentions of its week arrived"
    )
    late_mentions: int = Field(
        default=0, description="Mentions of its period that arrived after it was first built"
    )
    deliveries: dict[str, int] = Field(description="Emails per status: pending, sent, failed")

    @classmethod
    def of(cls, digest: Digest, counts: dict[str, int]) -> DigestSummary:
        """Build from the table row and its delivery counts."""
        return cls(
            id=digest.id,
            key=digest.key,
            recipient_list_id=digest.recipient_list_id,
            period_label=digest.period_label,
            period_start=digest.period_start,
            period_end=digest.period_end,
            timezone=digest.timezone,
            language=digest.language,
            filters=digest.filters,
            mention_count=digest.mention_count,
            quiet=digest.quiet,
            skipped_reason=digest.skipped_reason,
            built_at=digest.built_at,
            revised_at=digest.revised_at,
            late_mentions=digest.late_mentions,
            deliveries=counts,
        )


class DigestOut(DigestSummary):
    """A stored digest with every section (see the `data` keys)."""

    data: DigestDocument = Field(
        description="volume, sentiment, topics, emergent_terms, authors, engaged, questions, "
        "response, sla, throughput, alerts and notes; incidents and share_of_voice when there "
        "are any"
    )


class DigestPage(BaseModel):
    """One page of digests, newest period first; pass `next_cursor` as `cursor`."""

    items: list[DigestSummary]
    next_cursor: str | None


class RecipientListIn(BaseModel):
    """A new recipient list."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "comms-nl",
                    "emails": ["comms@fietsbaan.example"],
                    "language": "nl",
                    "languages": ["nl"],
                    "send_when_quiet": False,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.:@ -]+$")
    emails: list[str] = Field(min_length=1, max_length=200)
    language: Lang = "en"
    topics: list[str] = _names("Only mentions about these topics")
    sources: list[str] = _names("Only mentions from these sources or platforms")
    languages: list[str] = _names("Only mentions in these languages")
    query: str | None = _query_field("Only mentions matching this query")
    send_when_quiet: bool = False
    receive_alerts: bool = True
    enabled: bool = True

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        return _readable_query(value)

    @model_validator(mode="after")
    def _addresses(self) -> RecipientListIn:
        _check_addresses(self.emails)
        return self


def _check_addresses(emails: list[str] | None) -> None:
    import re

    for address in emails or []:
        if not re.match(_ADDRESS, address):
            raise ValueError(f"{address!r} is not an email address")


class RecipientListUpdate(PatchModel):
    """Changes to a recipient list; fields left out stay as they are (null is refused, but for
    `query`, where it removes the query)."""

    clearable = frozenset({"query"})

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Support team", "emails": ["support@example.org"], "enabled": True}
            ]
        }
    )

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[\w.:@ -]+$")
    emails: list[str] | None = Field(default=None, min_length=1, max_length=200)
    language: Lang | None = None
    topics: list[str] | None = Field(default=None, max_length=100)
    sources: list[str] | None = Field(default=None, max_length=100)
    languages: list[str] | None = Field(default=None, max_length=100)
    query: str | None = Field(
        default=None,
        max_length=MAX_QUERY_LENGTH,
        description='Only mentions matching this query (docs/QUERY.md); null or "" removes it',
    )
    send_when_quiet: bool | None = None
    receive_alerts: bool | None = None
    enabled: bool | None = None

    @field_validator("query")
    @classmethod
    def _query(cls, value: str | None) -> str | None:
        return _readable_query(value)

    @model_validator(mode="after")
    def _addresses(self) -> RecipientListUpdate:
        _check_addresses(self.emails)
        return self


class RecipientListOut(BaseModel):
    """A recipient list."""

    id: int
    name: str
    emails: list[str]
    language: str
    topics: list[str]
    sources: list[str]
    languages: list[str]
    query: str | None = Field(description="Only mentions matching this query; null: no query")
    send_when_quiet: bool
    receive_alerts: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, rl: RecipientList) -> RecipientListOut:
        """Build from the table row."""
        return cls.model_validate(rl, from_attributes=True)


class AlertOut(BaseModel):
    """A spike: which metric, for which topic or source, in which hour, and what drove it."""

    id: int
    metric: Literal["volume", "negative_share"]
    dimension: Literal["topic", "source", "all"]
    key: str = Field(description="The topic's or source's name ('all' for every mention)")
    window_start: datetime
    window_end: datetime
    observed: float = Field(description="Mentions in the hour, or the negative share")
    baseline: float = Field(description="The usual hourly count, or the usual negative share")
    z_score: float
    count: int
    drivers: dict[str, Any] = Field(description="terms, authors, sources and examples")
    created_at: datetime

    @classmethod
    def of(cls, a: Alert) -> AlertOut:
        """Build from the table row."""
        return cls(
            id=a.id,
            metric=a.metric,
            dimension=a.dimension,
            key=a.dimension_key,
            window_start=a.window_start,
            window_end=a.window_end,
            observed=a.observed,
            baseline=a.baseline,
            z_score=a.z_score,
            count=a.count,
            drivers=a.drivers,
            created_at=a.created_at,
        )


class AlertPage(BaseModel):
    """One page of alerts, newest first; pass `next_cursor` as `cursor`."""

    items: list[AlertOut]
    next_cursor: str | None


class AlertCheckIn(BaseModel):
    """Which hour to check: the one ending at `at` (default: the last full hour)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"at": "2026-11-20T09:00:00+01:00"}]}
    )

    at: Instant | None = Field(
        default=None, description="A date or a time without zone is local time"
    )


class EventOut(BaseModel):
    """Something integrations may act on, e.g. `alert.raised`."""

    id: int
    type: str = Field(examples=["alert.raised"])
    subject: str = Field(examples=["alert:12"])
    payload: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, e: IntegrationEvent) -> EventOut:
        """Build from the table row."""
        return cls.model_validate(e, from_attributes=True)


class EventPage(BaseModel):
    """Events after the id you passed, oldest first; poll again with `after=next_after`."""

    items: list[EventOut]
    next_after: int

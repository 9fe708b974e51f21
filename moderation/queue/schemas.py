"""What the API sends and accepts; separate input models so clients cannot set more than allowed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from listener.content import clean_html
from listener.kit import MAX_DB_INT
from listener.models import (
    AuditEntry,
    Author,
    Mention,
    MentionTopic,
    Note,
    QueueItem,
    Status,
    Topic,
    utcnow,
)
from listener.models.privacy import ERASED_PREFIX
from moderation.queue import sla
from moderation.queue.listing import MentionDetail, QueueRow
from moderation.queue.workflow import claim_is_live


class AuthorOut(BaseModel):
    """An author on one platform."""

    id: int
    platform: str
    handle: str | None
    display_name: str | None
    profile_url: str | None
    followers: int | None

    @classmethod
    def of(cls, author: Author) -> AuthorOut:
        """Build from the table row."""
        return cls(
            id=author.id,
            platform=author.platform,
            handle=author.handle,
            display_name=author.display_name,
            profile_url=author.profile_url,
            followers=author.followers,
        )


class QueueStateOut(BaseModel):
    """Where a mention stands in the queue; send `version` back with every write."""

    status: Status
    priority: int
    assignee_id: int | None
    version: int
    status_changed_at: datetime
    status_reason: str | None = Field(default=None, description="Why: escalation, snooze, wake")
    snoozed_until: datetime | None = None
    snooze_until_author: bool = Field(default=False, description="Wakes when the author writes")
    due_at: datetime | None = Field(default=None, description="First response due (SLA)")
    sla: str | None = Field(default=None, description="on_track, breached, met or missed")
    claimed_by: int | None = Field(default=None, description="Who holds a live claim")
    claim_expires_at: datetime | None = None

    @classmethod
    def of(cls, item: QueueItem) -> QueueStateOut:
        """Build from the table row."""
        now = utcnow()
        live = claim_is_live(item, now)
        return cls(
            status=Status(item.status),
            priority=item.priority,
            assignee_id=item.assignee_id,
            version=item.version,
            status_changed_at=item.status_changed_at,
            status_reason=item.status_reason,
            snoozed_until=item.snoozed_until,
            snooze_until_author=bool(item.snooze_until_author),
            due_at=item.due_at,
            sla=sla.state(item, now),
            claimed_by=item.claimed_by if live else None,
            claim_expires_at=item.claim_expires_at if live else None,
        )


class Engagement(BaseModel):
    """Engagement counters as last fetched."""

    likes: int | None
    reposts: int | None
    replies: int | None
    score: int | None
    views: int | None


class Sentiment(BaseModel):
    """How the mention feels; null where no model covers its language."""

    label: str | None
    score: float | None


class PriorityFactor(BaseModel):
    """One input to the priority score."""

    name: str
    value: float = Field(description="0 to 1")
    weight: float
    points: float = Field(description="weight × value")
    detail: str | None


class PriorityExplain(BaseModel):
    """How the priority was computed; `reason` is the one-line summary."""

    score: int
    band: str
    reason: str
    factors: list[PriorityFactor]
    computed_at: datetime | None

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> PriorityExplain | None:
        """Build from the stored explanation (None before the first computation)."""
        if not stored or "score" not in stored:
            return None
        return cls.model_validate(
            {k: stored.get(k) for k in ("score", "band", "reason", "factors", "computed_at")}
        )


class MentionBrief(BaseModel):
    """A mention as it appears in a thread."""

    id: int
    external_id: str
    url: str | None
    text: str
    created_at: datetime
    reply_to_external_id: str | None

    @classmethod
    def of(cls, m: Mention) -> MentionBrief:
        """Build from the table row."""
        return cls(
            id=m.id,
            external_id=m.external_id,
            url=m.url,
            text=m.text,
            created_at=m.created_at,
            reply_to_external_id=m.reply_to_external_id,
        )


class MentionOut(BaseModel):
    """A mention in the queue."""

    model_config = ConfigDict(json_schema_extra={"examples": []})

    id: int
    platform: str
    source_id: int
    source: str
    external_id: str
    url: str | None
    text: str
    html: str | None = Field(description="Platform HTML after sanitising; safe to render")
    language: str | None
    created_at: datetime
    fetched_at: datetime
    reply_to_external_id: str | None
    thread_external_id: str | None
    engagement: Engagement
    sentiment: Sentiment
    intents: list[str]
    author: AuthorOut | None
    queue: QueueStateOut
    tags: list[str] = Field(default_factory=list)
    priority_explain: PriorityExplain | None = Field(
        default=None, description="Why the item has its priority: factors, points and a reason"
    )
    deleted_at_source: datetime | None = Field(
        default=None,
        description="When Luister found the post deleted on its platform; its words were dropped",
    )
    erased: bool = Field(
        default=False, description="Erased at its author's request: only its counts remain"
    )

    @classmethod
    def of(cls, row: QueueRow) -> MentionOut:
        """Build from a queue row."""
        m = row.mention
        return cls(
            id=m.id,
            platform=m.platform,
            source_id=m.source_id,
            source=row.source_name,
            external_id=m.external_id,
            url=m.url,
            text=m.text,
            html=clean_html(m.html),
            language=m.language,
            created_at=m.created_at,
            fetched_at=m.fetched_at,
            reply_to_external_id=m.reply_to_external_id,
            thread_external_id=m.thread_external_id,
            engagement=Engagement(
                likes=m.likes, reposts=m.reposts, replies=m.replies, score=m.score, views=m.views
            ),
            sentiment=Sentiment(label=m.sentiment_label, score=m.sentiment_score),
            intents=list(m.intents or []),
            author=AuthorOut.of(row.author) if row.author else None,
            queue=QueueStateOut.of(row.item),
            tags=list(row.tags),
            priority_explain=PriorityExplain.of(row.item.priority_explain),
            deleted_at_source=m.deleted_at_source,
            erased=m.external_id.startswith(ERASED_PREFIX),
        )


class MentionPage(BaseModel):
    """One page of mentions; pass `next_cursor` back as `cursor` for the next."""

    items: list[MentionOut]
    next_cursor: str | None


class NoteOut(BaseModel):
    """An internal note."""

    id: int
    author_id: int | None
    body: str
    created_at: datetime

    @classmethod
    def of(cls, note: Note) -> NoteOut:
        """Build from the table row."""
        return cls(id=note.id, author_id=note.author_id, body=note.body, created_at=note.created_at)


class AuditOut(BaseModel):
    """One change in the item's history."""

    id: int
    action: str
    actor: str
    actor_user_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        """Build from the table row."""
        return cls(
            id=entry.id,
            action=entry.action,
            actor=entry.actor,
            actor_user_id=entry.actor_user_id,
            before=entry.before,
            after=entry.after,
            created_at=entry.created_at,
        )


class TopicMatch(BaseModel):
    """A topic found in the mention, with what matched."""

    id: int
    name: str
    spans: list[dict[str, Any]]

    @classmethod
    def of(cls, topic: Topic, link: MentionTopic) -> TopicMatch:
        """Build from the table rows."""
        return cls(id=topic.id, name=topic.name, spans=list(link.spans or []))


class MentionDetailOut(MentionOut):
    """A mention with its thread, notes, topics and audit history."""

    thread: list[MentionBrief]
    notes: list[NoteOut]
    topics: list[TopicMatch]
    history: list[AuditOut]

    @classmethod
    def of_detail(cls, detail: MentionDetail) -> MentionDetailOut:
        """Build from the detail view."""
        base = MentionOut.of(detail.row).model_dump()
        return cls(
            **base,
            thread=[MentionBrief.of(m) for m in detail.thread],
            notes=[NoteOut.of(n) for n in detail.notes],
            topics=[TopicMatch.of(t, link) for t, link in detail.topics],
            history=[AuditOut.of(e) for e in detail.history],
        )


class VersionedWrite(BaseModel):
    """Every write names the version it saw (or sends it as `If-Match`)."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="The queue version you saw; or send If-Match"
    )
    force: bool = Field(
        default=False, description="Admins only: act although someone else has claimed the item"
    )


class StatusChange(VersionedWrite):
    """Move a mention to another status."""

    status: Status
    reason: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "answered", "version": 1}]},
    )


class AssignmentChange(VersionedWrite):
    """Give the mention to a staff member, or null to unassign."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"assignee_id": 7, "version": 3}]})

    assignee_id: int | None = Field(ge=1, le=MAX_DB_INT)


class NoteIn(VersionedWrite):
    """An internal note for colleagues."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"body": "Customer called too; ticket #4711.", "version": 3}]
        }
    )

    body: str = Field(min_length=1, max_length=10_000)


class NoteCreated(BaseModel):
    """The note and the item's new queue state."""

    note: NoteOut
    queue: QueueStateOut

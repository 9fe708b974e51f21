"""Request and response models of erasure and access."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from listener.models import AuditEntry, Author, AuthorLink, OutboxMessage
from moderation.privacy.service import ErasureReport, MentionRecord, PersonRecords


class ErasureCounts(BaseModel):
    """How many of each kind of record one erasure removed or pseudonymised."""

    authors: int = Field(description="Author records pseudonymised (every linked identity)")
    mentions: int = Field(description="Mentions turned into tombstones (counts kept, words gone)")
    notes: int
    author_notes: int
    links: int
    outbox_cancelled: int = Field(description="Replies to them that had not gone out")
    outbox_redacted: int
    responses: int
    quarantined: int
    digests: int = Field(description="Stored digests whose quotes and names of them went")
    alerts: int
    events: int
    suppressed: int = Field(description="Keyed hashes kept so their posts are not stored again")


class ErasureOut(BaseModel):
    """What an erasure did; repeating it reports zero counts."""

    author_id: int
    identities: list[int] = Field(description="The linked author records the person had")
    already_erased: bool
    held_mentions: int = Field(description="Kept: under an active legal hold")
    counts: ErasureCounts
    audit_id: int | None

    @classmethod
    def of(cls, report: ErasureReport) -> ErasureOut:
        """Build from the service's report."""
        return cls(
            author_id=report.author_id,
            identities=report.identity_ids,
            already_erased=report.already_erased,
            held_mentions=report.held_mentions,
            counts=ErasureCounts(**report.counts()),
            audit_id=report.audit_id,
        )


class IdentityOut(BaseModel):
    """One author record of the person."""

    id: int
    platform: str
    platform_id: str
    handle: str | None
    display_name: str | None
    profile_url: str | None
    followers: int | None
    first_seen_at: datetime
    last_seen_at: datetime

    @classmethod
    def of(cls, a: Author) -> IdentityOut:
        """Build from the table row."""
        return cls(
            id=a.id,
            platform=a.platform,
            platform_id=a.platform_id,
            handle=a.handle,
            display_name=a.display_name,
            profile_url=a.profile_url,
            followers=a.followers,
            first_seen_at=a.first_seen_at,
            last_seen_at=a.last_seen_at,
        )


class LinkOut(BaseModel):
    """Staff said two records are the same person."""

    author_id: int
    linked_author_id: int
    note: str | None
    created_at: datetime

    @classmethod
    def of(cls, link: AuthorLink) -> LinkOut:
        """Build from the table row."""
        return cls(
            author_id=link.author_id,
            linked_author_id=link.linked_author_id,
            note=link.note,
            created_at=link.created_at,
        )


class StaffNoteOut(BaseModel):
    """An internal note staff wrote."""

    id: int
    body: str
    by: str | None
    created_at: datetime


class ResponseRecordOut(BaseModel):
    """How the team answered one of their mentions."""

    kind: str
    url: str | None
    note: str | None
    responded_at: datetime


class MentionRecordOut(BaseModel):
    """One of their mentions with everything staff added to it."""

    id: int
    platform: str
    source: str
    external_id: str
    url: str | None
    text: str
    html: str | None
    language: str | None
    created_at: datetime
    fetched_at: datetime
    sentiment: str | None
    intents: list[str]
    likes: int | None
    reposts: int | None
    replies: int | None
    raw: dict[str, Any] | None
    status: str | None
    topics: list[str]
    tags: list[str]
    notes: list[StaffNoteOut]
    responses: list[ResponseRecordOut]
    appreciations: list[str] = Field(description="Likes and boosts we gave it")

    @classmethod
    def of(cls, r: MentionRecord) -> MentionRecordOut:
        """Build from the service's record."""
        m = r.mention
        return cls(
            id=m.id,
            platform=m.platform,
            source=r.source,
            external_id=m.external_id,
            url=m.url,
            text=m.text,
            html=m.html,
            language=m.language,
            created_at=m.created_at,
            fetched_at=m.fetched_at,
            sentiment=m.sentiment_label,
            intents=list(m.intents or []),
            likes=m.likes,
            reposts=m.reposts,
            replies=m.replies,
            raw=m.raw,
            status=r.queue.status if r.queue is not None else None,
            topics=r.topics,
            tags=r.tags,
            notes=[
                StaffNoteOut(id=n.id, body=n.body, by=by, created_at=n.created_at)
                for n, by in r.notes
            ],
            responses=[
                ResponseRecordOut(kind=x.kind, url=x.url, note=x.note, responded_at=x.responded_at)
                for x in r.responses
            ],
            appreciations=[
                f"{a.action} ({'undone' if a.undone_at else 'standing'})" for a in r.appreciations
            ],
        )


class OutboxRecordOut(BaseModel):
    """A reply we wrote (or meant to write) to one of their mentions."""

    id: int
    mention_id: int | None
    status: str
    body: str
    url: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> OutboxRecordOut:
        """Build from the table row."""
        return cls(
            id=row.id,
            mention_id=row.mention_id,
            status=row.status,
            body=row.body,
            url=row.url,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


class AuditRecordOut(BaseModel):
    """An audit entry concerning the person or one of their mentions."""

    id: int
    created_at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    mention_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, e: AuditEntry) -> AuditRecordOut:
        """Build from the table row."""
        return cls(
            id=e.id,
            created_at=e.created_at,
            actor=e.actor,
            action=e.action,
            entity=e.entity,
            entity_id=e.entity_id,
            mention_id=e.mention_id,
            before=e.before,
            after=e.after,
        )


class PersonDataOut(BaseModel):
    """Everything Luister holds about one person (a subject access request's answer)."""

    author_id: int
    generated_at: datetime
    identities: list[IdentityOut]
    links: list[LinkOut]
    notes: list[StaffNoteOut] = Field(description="Internal notes about the person")
    mentions: list[MentionRecordOut]
    outbox: list[OutboxRecordOut]
    audit: list[AuditRecordOut]

    @classmethod
    def of(cls, records: PersonRecords) -> PersonDataOut:
        """Build from the service's records."""
        return cls(
            author_id=records.author_id,
            generated_at=records.generated_at,
            identities=[IdentityOut.of(a) for a in records.identities],
            links=[LinkOut.of(link) for link in records.links],
            notes=[
                StaffNoteOut(id=n.id, body=n.body, by=by, created_at=n.created_at)
                for n, by in records.author_notes
            ],
            mentions=[MentionRecordOut.of(r) for r in records.mentions],
            outbox=[OutboxRecordOut.of(row) for row in records.outbox],
            audit=[AuditRecordOut.of(e) for e in records.audit],
        )

"""Request and response bodies of the triage endpoints (claims, snooze, bulk, views, authors)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant
from listener.models import AuthorLink, AuthorNote, BulkJob, Response, SavedView, Status
from listener.query import MAX_QUERY_LENGTH, readable_query
from listener.rest.patch import PatchModel
from moderation.queue.authors import AuthorProfile
from moderation.queue.claims import Claim
from moderation.queue.listing import MentionFilter
from moderation.queue.presence import Viewer
from moderation.queue.schemas import AuthorOut, NoteOut, QueueStateOut, VersionedWrite

_STRICT = ConfigDict(extra="forbid")


class ClaimIn(BaseModel):
    """Take or renew the claim on a mention."""

    model_config = ConfigDict(
        **_STRICT, json_schema_extra={"examples": [{"minutes": 10, "version": 3}]}
    )

    minutes: int | None = Field(default=None, ge=1, le=240, description="Default from settings")
    force: bool = Field(default=False, description="Admins only: take it from its holder")
    version: int | None = Field(default=None, ge=1, le=MAX_DB_INT, description="Checked when given")


class ClaimOut(BaseModel):
    """Who holds the mention; all null when nobody does."""

    mention_id: int
    user_id: int | None
    username: str | None
    expires_at: datetime | None

    @classmethod
    def of(cls, claim: Claim) -> ClaimOut:
        """Build from the claim."""
        return cls(
            mention_id=claim.mention_id,
            user_id=claim.user_id,
            username=claim.username,
            expires_at=claim.expires_at,
        )


class SnoozeIn(VersionedWrite):
    """Put the mention aside until a time, until its author writes again, or both."""

    until: Instant | None = Field(
        default=None, description="In the future; a date or a time without zone is local time"
    )
    until_author_writes: bool = False
    reason: str | None = Field(default=None, max_length=2000)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"until_author_writes": True, "version": 3}]},
    )


class EscalateIn(VersionedWrite):
    """Hand the mention up, saying why."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Mentions a data breach", "version": 3}]}
    )

    reason: str = Field(min_length=1, max_length=2000)


class ReopenIn(VersionedWrite):
    """Bring the mention back to open."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "The author wrote again", "version": 3}]}
    )

    reason: str | None = Field(default=None, max_length=2000)


class TagsIn(VersionedWrite):
    """Add and remove tags (free labels, created on first use)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"add": ["billing"], "remove": ["spam-suspect"], "version": 3}]
        }
    )

    add: list[str] = Field(default_factory=list, max_length=20)
    remove: list[str] = Field(default_factory=list, max_length=20)


class TagsOut(BaseModel):
    """The mention's tags and queue state after the change."""

    tags: list[str]
    queue: QueueStateOut


class TagCount(BaseModel):
    """A tag and how many mentions carry it."""

    name: str
    mentions: int


class ViewerOut(BaseModel):
    """A staff member who has the mention open."""

    user_id: int
    username: str
    display_name: str | None
    seen_at: datetime

    @classmethod
    def of(cls, viewer: Viewer) -> ViewerOut:
        """Build from the presence row."""
        return cls(
            user_id=viewer.user_id,
            username=viewer.username,
            display_name=viewer.display_name,
            seen_at=viewer.seen_at,
        )


class PresenceOut(BaseModel):
    """Who is looking at the mention now; send a heartbeat more often than `ttl_seconds`."""

    mention_id: int
    viewers: list[ViewerOut]
    ttl_seconds: int


class FilterIn(BaseModel):
    """A queue filter, as saved views and bulk actions take it."""

    model_config = _STRICT

    status: list[Status] = Field(default_factory=list)
    source_id: int | None = Field(default=None, ge=1, le=MAX_DB_INT)
    platform: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=16)
    sentiment: Literal["positive", "neutral", "negative"] | None = None
    intent: str | None = Field(default=None, max_length=32)
    topic: str | None = Field(default=None, max_length=100)
    tag: str | None = Field(default=None, max_length=50)
    author_id: int | None = Field(default=None, ge=1, le=MAX_DB_INT)
    assignee_id: int | None = Field(default=None, ge=1, le=MAX_DB_INT)
    unassigned: bool = False
    mine: bool = Field(default=False, description="Assigned to whoever uses the filter")
    since: Instant | None = None
    until: Instant | None = None
    text: str | None = Field(default=None, max_length=200, description="Text contains")
    search: str | None = Field(default=None, max_length=200, description="Full-text search")
    query: str | None = Field(
        default=None,
        max_length=MAX_QUERY_LENGTH,
        description="A query in the query language (docs/QUERY.md), e.g. 'storing* lang:nl'",
        examples=['(storing OR "ligt eruit") lang:nl -test'],
    )
    min_priority: int | None = Field(default=None, ge=0, le=100)
    breached: bool = False
    due_within_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)

    @field_validator("query")
    @classmethod
    def _readable_query(cls, value: str | None) -> str | None:
        return readable_query(value)

    def stored(self) -> dict[str, Any]:
        """The filter as a view stores it (only what is set)."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def for_user(self, user_id: int) -> MentionFilter:
        """The listing filter this means for `user_id`."""
        values = self.model_dump(exclude={"mine", "status"})
        values["status"] = [s.value for s in self.status]
        if self.mine:
            values |= {"assignee_id": user_id, "unassigned": False}
        return MentionFilter(**values)


class BulkIn(BaseModel):
    """One action on a list of ids, on everything matching a filter, or on a saved view."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"action": "spam", "filter": {"status": ["new"], "search": "free crypto"}},
                {"action": "assign", "ids": [12, 13], "assignee_id": 4},
            ]
        },
    )

    action: Literal["status", "spam", "assign", "tag", "untag"]
    ids: list[Annotated[int, Field(ge=1, le=MAX_DB_INT)]] | None = Field(
        default=None, min_length=1, max_length=10_000
    )
    filter: FilterIn | None = None
    view_id: int | None = Field(default=None, ge=1, le=MAX_DB_INT)
    status: Status | None = Field(default=None, description="For action status")
    assignee_id: int | None = Field(
        default=None, ge=1, le=MAX_DB_INT, description="For action assign (null unassigns)"
    )
    tags: list[str] = Field(default_factory=list, max_length=20, description="For tag/untag")
    reason: str | None = Field(default=None, max_length=2000)
    force: bool = Field(default=False, description="Admins only: include items others claimed")

    @model_validator(mode="after")
    def _one_selection(self) -> BulkIn:
        chosen = [n for n in ("ids", "filter", "view_id") if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of ids, filter or view_id")
        return self


class BulkJobOut(BaseModel):
    """A bulk job and how far it got; poll it until `state` is done or failed."""

    id: int
    action: str
    state: Literal["queued", "running", "done", "failed"]
    total: int
    processed: int
    applied: int
    skipped: int
    progress: float = Field(description="processed / total")
    params: dict[str, Any]
    selection: dict[str, Any]
    requested_by: int | None
    error: str | None
    undo_of_id: int | None
    undone_by_id: int | None
    undo_until: datetime | None = Field(description="Undo is possible until then")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: BulkJob, *, undone_by_id: int | None = None) -> BulkJobOut:
        """Build from the job row."""
        return cls(
            id=job.id,
            action=job.action,
            state=job.state,
            total=job.total,
            processed=job.processed,
            applied=job.applied,
            skipped=job.skipped,
            progress=round(job.processed / job.total, 4) if job.total else 1.0,
            params=job.params,
            selection=job.selection,
            requested_by=job.requested_by,
            error=job.error,
            undo_of_id=job.undo_of_id,
            undone_by_id=undone_by_id,
            undo_until=job.undo_until,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class BulkItemOut(BaseModel):
    """What a bulk job did to one mention."""

    mention_id: int
    state: Literal["pending", "applied", "unchanged", "skipped"]
    reason: str | None


class ViewIn(BaseModel):
    """A named filter to keep."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "name": "Dutch complaints, unassigned",
                    "filters": {"language": "nl", "sentiment": "negative", "unassigned": True},
                    "sort": "priority",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100, examples=["Dutch complaints, unassigned"])
    filters: FilterIn
    sort: Literal["newest", "priority"] = "priority"
    shared: bool = Field(default=False, description="Admins only: visible to the whole team")


class ViewPatch(PatchModel):
    """Change a view; omitted fields stay (null is refused: every field of a view is required)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Dutch complaints", "shared": True}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=100)
    filters: FilterIn | None = None
    sort: Literal["newest", "priority"] | None = None
    shared: bool | None = None


class ViewOut(BaseModel):
    """A saved view with how many mentions it holds now."""

    id: int
    name: str
    owner_id: int
    shared: bool
    sort: str
    filters: dict[str, Any]
    count: int
    count_capped: bool = Field(description="True when there are more than `count`")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: SavedView, *, count: int, capped: bool) -> ViewOut:
        """Build from the row and its count."""
        return cls(
            id=view.id,
            name=view.name,
            owner_id=view.owner_id,
            shared=view.shared,
            sort=view.sort,
            filters=view.filters,
            count=count,
            count_capped=capped,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class LinkIn(BaseModel):
    """Say another author record is the same person."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={"examples": [{"other_author_id": 42, "note": "Same person on Bluesky"}]},
    )

    other_author_id: int = Field(ge=1, le=MAX_DB_INT)
    note: str | None = Field(default=None, max_length=2000)


class LinkOut(BaseModel):
    """A link between two author records."""

    author_id: int
    linked_author_id: int
    note: str | None
    created_by: int | None
    created_at: datetime

    @classmethod
    def of(cls, link: AuthorLink) -> LinkOut:
        """Build from the row."""
        return cls(
            author_id=link.author_id,
            linked_author_id=link.linked_author_id,
            note=link.note,
            created_by=link.created_by,
            created_at=link.created_at,
        )


class AuthorNoteIn(BaseModel):
    """A note about the person."""

    model_config = ConfigDict(
        **_STRICT, json_schema_extra={"examples": [{"body": "Long-time customer; prefers Dutch."}]}
    )

    body: str = Field(min_length=1, max_length=10_000)


class AuthorNoteOut(BaseModel):
    """A note about the person."""

    id: int
    author_id: int
    user_id: int | None
    username: str | None
    body: str
    created_at: datetime

    @classmethod
    def of(cls, note: AuthorNote, username: str | None) -> AuthorNoteOut:
        """Build from the row."""
        return cls(
            id=note.id,
            author_id=note.author_id,
            user_id=note.user_id,
            username=username,
            body=note.body,
            created_at=note.created_at,
        )


class SentimentWeekOut(BaseModel):
    """How the person's mentions felt in one week (starting Monday, UTC)."""

    week: date
    mentions: int
    positive: int
    neutral: int
    negative: int
    average: float | None


class ResponsivenessOut(BaseModel):
    """How quickly the team answered this person."""

    answered: int
    waiting: int
    median_minutes: float | None
    average_minutes: float | None
    sla_met: int
    sla_missed: int


class TeamReplyOut(BaseModel):
    """How the team answered one of the person's mentions."""

    mention_id: int
    kind: str = Field(description="reply (on the platform) or external")
    url: str | None
    responded_at: datetime
    waited_seconds: int = Field(description="From the author's post to our answer")
    by: str | None

    @classmethod
    def of(cls, response: Response, username: str | None) -> TeamReplyOut:
        """Build from the row."""
        return cls(
            mention_id=response.mention_id,
            kind=response.kind,
            url=response.url,
            responded_at=response.responded_at,
            waited_seconds=response.response_seconds,
            by=username,
        )


class AuthorProfileOut(BaseModel):
    """One person across platforms."""

    author: AuthorOut
    identities: list[AuthorOut]
    links: list[LinkOut]
    mentions: int
    first_mention_at: datetime | None
    last_mention_at: datetime | None
    platforms: dict[str, int]
    sentiment: list[SentimentWeekOut]
    responsiveness: ResponsivenessOut
    notes: list[AuthorNoteOut]
    replies: list[TeamReplyOut] = Field(description="The team's answers, newest first")

    @classmethod
    def of(cls, p: AuthorProfile) -> AuthorProfileOut:
        """Build from the profile."""
        r = p.responsiveness
        return cls(
            author=AuthorOut.of(p.author),
            identities=[AuthorOut.of(a) for a in p.identities],
            links=[LinkOut.of(link) for link in p.links],
            mentions=p.mentions,
            first_mention_at=p.first_mention_at,
            last_mention_at=p.last_mention_at,
            platforms=p.platforms,
            sentiment=[SentimentWeekOut(**vars(w)) for w in p.sentiment],
            responsiveness=ResponsivenessOut(
                answered=r.answered,
                waiting=r.waiting,
                median_minutes=r.median_minutes,
                average_minutes=r.average_minutes,
                sla_met=r.sla_met,
                sla_missed=r.sla_missed,
            ),
            notes=[AuthorNoteOut.of(n, u) for n, u in p.notes],
            replies=[TeamReplyOut.of(r, u) for r, u in p.replies],
        )


class CallInOut(BaseModel):
    """A note that @mentions you."""

    mention_id: int
    note: NoteOut
    written_by: str | None


class CallInPage(BaseModel):
    """Notes that @mention you, newest first; pass `next_before` back as `before`."""

    items: list[CallInOut]
    next_before: int | None

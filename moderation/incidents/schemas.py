"""What the incidents and earlier-answers endpoints accept and send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from listener.kit import MAX_DB_INT
from listener.models import Incident, Status
from moderation.incidents.earlier import EarlierAnswer
from moderation.incidents.service import Member, Outcome

_Id = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
#: Queue statuses an incident's members can be moved to together.
IncidentQueueStatus = Literal["open", "answered", "resolved", "escalated", "hidden", "spam"]


class IncidentOut(BaseModel):
    """A burst of similar mentions: title from its top terms, when it ran, how big it is."""

    id: int
    title: str
    terms: list[str]
    status: Literal["open", "closed"]
    started_at: datetime
    peak_at: datetime = Field(description="Start of the hour with the most members")
    ended_at: datetime
    mention_count: int
    author_count: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """The API view of a row."""
        return cls(
            id=incident.id,
            title=incident.title,
            terms=list(incident.terms or []),
            status=incident.status,
            started_at=incident.started_at,
            peak_at=incident.peak_at,
            ended_at=incident.ended_at,
            mention_count=incident.mention_count,
            author_count=incident.author_count,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
            closed_at=incident.closed_at,
        )


class IncidentPage(BaseModel):
    """One page of incidents, newest first; pass `next_cursor` as `cursor`."""

    items: list[IncidentOut]
    next_cursor: str | None


class IncidentMemberOut(BaseModel):
    """A member mention with its queue state (`version` for single-item writes)."""

    mention_id: int
    reason: str = Field(description="How it joined: term, duplicate or thread")
    created_at: datetime
    platform: str
    author_handle: str | None
    text: str
    url: str | None
    status: str | None
    version: int | None

    @classmethod
    def of(cls, member: Member) -> IncidentMemberOut:
        """The API view of a member."""
        return cls(
            mention_id=member.mention_id,
            reason=member.reason,
            created_at=member.created_at,
            platform=member.platform,
            author_handle=member.author_handle,
            text=member.text,
            url=member.url,
            status=member.status,
            version=member.version,
        )


class IncidentDetail(IncidentOut):
    """An incident with its members, oldest first."""

    members: list[IncidentMemberOut]


class IncidentStatusIn(BaseModel):
    """Move every open member (new, open, escalated, snoozed) to `status`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "resolved", "reason": "outage fixed"}]},
    )

    status: IncidentQueueStatus
    reason: str | None = Field(default=None, max_length=2000)

    def queue_status(self) -> Status:
        """The queue status asked for."""
        return Status(self.status)


class IncidentReplyIn(BaseModel):
    """Answer every author once, from one template filled in for each of them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"template_id": 3, "values": {"link": "https://example.org/status"}}]
        },
    )

    template_id: _Id
    values: dict[str, str] = Field(
        default_factory=dict, description="Values for placeholders only staff can fill"
    )
    by_language: dict[Annotated[str, Field(max_length=16)], _Id] = Field(
        default_factory=dict,
        description="Another template for authors writing in a language, e.g. {'en': 4}",
    )


class MemberResult(BaseModel):
    """What happened to one member (or author) in an action on the whole incident."""

    mention_id: int
    author_id: int | None = None
    outbox_id: int | None = None
    status: str | None = None
    version: int | None = None
    reason: str | None = None
    detail: str | None = None


class IncidentActionOut(BaseModel):
    """Members the action reached, and those it skipped with the reason."""

    done: list[MemberResult]
    skipped: list[MemberResult]

    @classmethod
    def of(cls, outcome: Outcome) -> IncidentActionOut:
        """The API view of an outcome."""

        def results(items: list[dict[str, Any]]) -> list[MemberResult]:
            return [MemberResult(**item) for item in items]

        return cls(done=results(outcome.done), skipped=results(outcome.skipped))


class AnswerOut(BaseModel):
    """What we said: `reply` (through Luister), `external` (elsewhere) or `own_post`."""

    kind: str
    text: str | None
    url: str | None
    at: datetime | None


class FollowUpOut(BaseModel):
    """What the author wrote next in the thread, after our answer."""

    mention_id: int
    text: str
    created_at: datetime


class EarlierAnswerOut(BaseModel):
    """An earlier answered mention like this one, with our answer and what happened next."""

    mention_id: int
    similarity: float = Field(description="0 to 1: weighted overlap of their (stemmed) terms")
    shared_terms: list[str]
    text: str
    language: str | None
    created_at: datetime
    url: str | None
    status: str | None = Field(description="Its queue status now")
    answers: list[AnswerOut]
    follow_ups: list[FollowUpOut]

    @classmethod
    def of(cls, found: EarlierAnswer) -> EarlierAnswerOut:
        """The API view."""
        return cls(
            mention_id=found.mention_id,
            similarity=found.similarity,
            shared_terms=found.shared_terms,
            text=found.text,
            language=found.language,
            created_at=found.created_at,
            url=found.url,
            status=found.status,
            answers=[
                AnswerOut(kind=a.kind, text=a.text, url=a.url, at=a.at) for a in found.answers
            ],
            follow_ups=[
                FollowUpOut(mention_id=f.mention_id, text=f.text, created_at=f.created_at)
                for f in found.follow_ups
            ],
        )

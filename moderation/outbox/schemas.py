"""What the replies, questions and templates endpoints accept and send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant
from listener.models import (
    Appreciation,
    Author,
    Mention,
    OutboxMessage,
    Question,
    ReplyTemplate,
    Response,
)
from listener.rest.patch import PatchModel
from moderation.outbox.questions import QuestionView

_Id = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
_Version = Annotated[int, Field(ge=1, le=MAX_DB_INT)]

#: A BCP 47-ish language tag, bounded to its column (varchar 16).
LANGUAGE_TAG = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplyIn(_In):
    """A reply to a mention: write `body`, or start from a template."""

    body: str | None = Field(default=None, min_length=1, max_length=40_000)
    template_id: _Id | None = None
    values: dict[str, str] = Field(
        default_factory=dict, description="Template variables to fill, e.g. {'link': '…'}"
    )
    source_id: _Id | None = Field(default=None, description="Answer through another source")
    language: str | None = Field(
        default=None, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )
    send: bool = Field(default=False, description="Schedule at once (the undo window applies)")

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Thanks, we are on it!", "send": True}]},
    )


class ReplyEdit(PatchModel):
    """New text for a draft; `version` is the reply's version you saw (null is refused)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"version": 2, "body": "Thanks for telling us! We are looking into it now."}
            ]
        }
    )

    version: _Version
    body: str | None = Field(default=None, min_length=1, max_length=40_000)
    title: str | None = Field(default=None, min_length=1, max_length=300)


class ReplyVersion(_In):
    """The reply's version you saw."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 2}]})

    version: _Version


class OptionalVersion(_In):
    """Optionally, the reply's version you saw."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 2}]})

    version: _Version | None = None


class ReplyOut(BaseModel):
    """A reply or post in the outbox, and what the platform made of it."""

    id: int
    kind: str
    status: str
    version: int
    mention_id: int | None
    question_id: int | None
    source_id: int | None
    body: str
    title: str | None
    language: str | None
    attempts: int
    scheduled_at: datetime | None = Field(description="When it leaves (end of the undo window)")
    last_error: str | None
    unsure: bool = Field(description="An earlier attempt may have arrived; checked before resend")
    external_id: str | None
    url: str | None
    created_by_id: int | None
    approved_by_id: int | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> ReplyOut:
        """Build from the table row."""
        return cls(
            id=row.id,
            kind=row.kind,
            status=row.status,
            version=row.version,
            mention_id=row.mention_id,
            question_id=row.question_id,
            source_id=row.source_id,
            body=row.body,
            title=row.title,
            language=row.language,
            attempts=row.attempts,
            scheduled_at=row.scheduled_at,
            last_error=row.last_error,
            unsure=row.unsure_since is not None,
            external_id=row.external_id,
            url=row.url,
            created_by_id=row.created_by_id,
            approved_by_id=row.approved_by_id,
            created_at=row.created_at,
            sent_at=row.sent_at,
        )


class AppreciationIn(_In):
    """Like (favourite, upvote) or boost (repost)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"action": "like"}]})

    action: Literal["like", "boost"]


class AppreciationOut(BaseModel):
    """A like or boost given through the platform."""

    id: int
    mention_id: int
    action: str
    actor_user_id: int | None
    created_at: datetime
    undone_at: datetime | None

    @classmethod
    def of(cls, row: Appreciation) -> AppreciationOut:
        """Build from the table row."""
        return cls(
            id=row.id,
            mention_id=row.mention_id,
            action=row.action,
            actor_user_id=row.actor_user_id,
            created_at=row.created_at,
            undone_at=row.undone_at,
        )


class ExternalAnswerIn(_In):
    """Where and when staff answered outside Luister."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"url": "https://social.example/@anna/1234", "note": "Answered on the forum"}
            ]
        }
    )

    url: AnyHttpUrl | None = None
    note: str | None = Field(default=None, max_length=5000)
    answered_at: Instant | None = Field(
        default=None, description="Default: now; a date or a time without zone is local time"
    )


class ResponseOut(BaseModel):
    """A response to a mention and how long its author waited for it."""

    id: int
    mention_id: int
    kind: str
    outbox_id: int | None
    url: str | None
    note: str | None
    responded_at: datetime
    response_seconds: int

    @classmethod
    def of(cls, row: Response) -> ResponseOut:
        """Build from the table row."""
        return cls(
            id=row.id,
            mention_id=row.mention_id,
            kind=row.kind,
            outbox_id=row.outbox_id,
            url=row.url,
            note=row.note,
            responded_at=row.responded_at,
            response_seconds=row.response_seconds,
        )


class QuestionIn(_In):
    """Ask the community: a new post on `source_id`, or a follow-up under `mention_id`."""

    body: str = Field(min_length=1, max_length=40_000)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    source_id: _Id | None = None
    mention_id: _Id | None = None
    language: str | None = Field(
        default=None, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"body": "What would you like us to fix first?", "source_id": 1}]
        },
    )


class QuestionOut(BaseModel):
    """A question the team asked."""

    id: int
    source_id: int | None
    mention_id: int | None
    title: str | None
    body: str
    status: str
    created_by_id: int | None
    created_at: datetime
    follow_until: datetime

    @classmethod
    def of(cls, q: Question) -> QuestionOut:
        """Build from the table row."""
        return cls(
            id=q.id,
            source_id=q.source_id,
            mention_id=q.mention_id,
            title=q.title,
            body=q.body,
            status=q.status,
            created_by_id=q.created_by_id,
            created_at=q.created_at,
            follow_until=q.follow_until,
        )


class QuestionCreated(BaseModel):
    """The question and the post that carries it."""

    question: QuestionOut
    post: ReplyOut


class QuestionSummary(QuestionOut):
    """A question with its answer counts."""

    answers: int
    unread: int


class AnswerOut(BaseModel):
    """One answer to a question."""

    mention_id: int
    platform: str
    url: str | None
    text: str
    created_at: datetime
    author_handle: str | None
    sentiment: str | None
    read: bool

    @classmethod
    def of(cls, mention: Mention, author: Author | None, read: bool) -> AnswerOut:
        """Build from the rows."""
        return cls(
            mention_id=mention.id,
            platform=mention.platform,
            url=mention.url,
            text=mention.text,
            created_at=mention.created_at,
            author_handle=author.handle if author else None,
            sentiment=mention.sentiment_label,
            read=read,
        )


class TopicCount(BaseModel):
    """How many answers touch a topic."""

    topic: str
    answers: int


class QuestionViewOut(BaseModel):
    """A question with its answers summed up."""

    question: QuestionOut
    posts: list[ReplyOut]
    answers: list[AnswerOut]
    sentiment: dict[str, int] = Field(description="Answers per sentiment label")
    topics: list[TopicCount]
    unread: int

    @classmethod
    def of(cls, view: QuestionView) -> QuestionViewOut:
        """Build from the view."""
        return cls(
            question=QuestionOut.of(view.question),
            posts=[ReplyOut.of(p) for p in view.posts],
            answers=[
                AnswerOut.of(a.mention, a.author, a.link.read_at is not None) for a in view.answers
            ],
            sentiment=view.sentiment,
            topics=[TopicCount(topic=name, answers=n) for name, n in view.topics],
            unread=view.unread,
        )


class MarkReadIn(_In):
    """Which answers were read (all when left out)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"mention_ids": [101, 102]}]})

    mention_ids: list[_Id] | None = None


class MarkedRead(BaseModel):
    """How many answers changed to read, and how many are left."""

    marked: int
    unread: int


class TemplateIn(_In):
    """A canned response; `{{author_name}}` etc. are filled in, `### … ###` must be."""

    name: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=40_000)
    language: str | None = Field(
        default=None, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )
    intents: list[str] = Field(default_factory=list, max_length=20)
    topics: list[str] = Field(default_factory=list, max_length=20)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "outage",
                    "language": "en",
                    "body": "Hi {{author_name}}, sorry! Follow {{link}} for updates. ### ETA ###",
                    "intents": ["complaint"],
                }
            ]
        },
    )


class TemplatePatch(PatchModel):
    """Fields to change; null clears only `language` (the template then fits every language)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "outage-apology", "language": "en"}]}
    )

    clearable = frozenset({"language"})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    body: str | None = Field(default=None, min_length=1, max_length=40_000)
    language: str | None = Field(
        default=None, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
    )
    intents: list[str] | None = Field(default=None, max_length=20)
    topics: list[str] | None = Field(default=None, max_length=20)


class TemplateOut(BaseModel):
    """A canned response."""

    id: int
    name: str
    language: str | None
    body: str
    intents: list[str]
    topics: list[str]
    uses: int

    @classmethod
    def of(cls, t: ReplyTemplate) -> TemplateOut:
        """Build from the table row."""
        return cls(
            id=t.id,
            name=t.name,
            language=t.language,
            body=t.body,
            intents=list(t.intents or []),
            topics=list(t.topics or []),
            uses=t.uses,
        )


class RenderIn(_In):
    """Fill a template for a mention, with extra values."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mention_id": 101, "values": {"ticket": "4711"}}]}
    )

    mention_id: _Id | None = None
    values: dict[str, str] = Field(default_factory=dict)


class RenderedOut(BaseModel):
    """The filled-in text and the placeholders still to fill before it can be sent."""

    text: str
    unfilled: list[str]

"""What Luister says on the platforms: the outbox, canned responses, questions, appreciation."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId


class OutboxStatus(enum.StrEnum):
    """Where an outgoing reply or post stands; the row, not the job queue, is the truth."""

    DRAFT = "draft"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OutboxKind(enum.StrEnum):
    """A reply under a mention, or a new post on a source."""

    REPLY = "reply"
    POST = "post"


def _values(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


class OutboxMessage(Base):
    """One reply or post on its way out, with its attempts and what the platform made of it."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN ({_values(OutboxStatus)})", name="status"),
        CheckConstraint(f"kind IN ({_values(OutboxKind)})", name="kind"),
        Index("ix_outbox_status_scheduled_at", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.DRAFT.value)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("mentions.id", ondelete="SET NULL"), index=True
    )
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("questions.id", ondelete="SET NULL"), index=True
    )
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("reply_templates.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(16))
    # Sent with every attempt (Mastodon's Idempotency-Key); never changes once made.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    # Set while an earlier attempt may have reached the platform: check before sending again.
    unsure_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(512), index=True)
    platform_id: Mapped[str | None] = mapped_column(String(512))
    url: Mapped[str | None] = mapped_column(Text)
    # The platform's answer to the create: what a later thread read starts from.
    platform_raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    followed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    scheduled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ReplyTemplate(Base):
    """A canned response in one language, with `{{variables}}` and `### placeholders ###`."""

    __tablename__ = "reply_templates"
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    body: Mapped[str] = mapped_column(Text)
    intents: Mapped[list[str]] = mapped_column(JSONType, default=list)
    topics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Question(Base):
    """A question the team asked the community; its answers are mentions linked to it."""

    __tablename__ = "questions"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    follow_until: Mapped[datetime]
    last_followed_at: Mapped[datetime | None]


class QuestionAnswer(Base):
    """A mention heard in a question's thread: an answer, read or not yet."""

    __tablename__ = "question_answers"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Appreciation(Base):
    """A like or boost given through the platform; at most one standing per mention and kind."""

    __tablename__ = "appreciations"
    __table_args__ = (
        CheckConstraint("action IN ('like', 'boost')", name="action"),
        Index(
            "uq_appreciations_standing",
            "mention_id",
            "action",
            unique=True,
            sqlite_where=text("undone_at IS NULL"),
            postgresql_where=text("undone_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str | None] = mapped_column(String(512))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Response(Base):
    """A mention answered: by our reply on the platform, or elsewhere (link and note)."""

    __tablename__ = "responses"
    __table_args__ = (CheckConstraint("kind IN ('reply', 'external')", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), unique=True
    )
    url: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime]
    # From the mention's creation to the response: what the author waited.
    response_seconds: Mapped[int] = mapped_column(Integer)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

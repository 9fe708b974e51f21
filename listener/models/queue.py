"""The staff side of a mention: its queue state, notes and the audit log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId


class Status(enum.StrEnum):
    """Where a mention stands in the moderation queue."""

    NEW = "new"
    OPEN = "open"
    ANSWERED = "answered"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    SNOOZED = "snoozed"
    HIDDEN = "hidden"
    SPAM = "spam"


_STATUS_VALUES = ", ".join(f"'{s.value}'" for s in Status)


class QueueItem(Base):
    """Moderation state of one mention; every write bumps `version` (compare-and-swap)."""

    __tablename__ = "queue_items"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_VALUES})", name="status"),
        Index("ix_queue_items_status_priority", "status", "priority"),
        # The priority-sorted queue reads this index in order and stops after one page.
        Index("ix_queue_items_priority_mention", "priority", "mention_id"),
    )

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default=Status.NEW.value)
    priority: Mapped[int] = mapped_column(Integer, default=0, index=True)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Triage (moderation.queue.priority, .sla, .claims): when Luister heard it starts the SLA clock.
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    priority_explain: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    priority_computed_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_band: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    first_response_at: Mapped[datetime | None]
    sla_outcome: Mapped[str | None] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    snoozed_until: Mapped[datetime | None] = mapped_column(index=True)
    snooze_until_author: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claim_expires_at: Mapped[datetime | None]


class Note(Base):
    """An internal note staff left on a mention."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who changed what, when, from which state to which; one link of a hash chain.

    The log outlives what it describes: `mention_id` and `actor_user_id` are plain numbers, not
    foreign keys, so deleting a source or a user never rewrites history (which would break the
    chain). `seq`, `prev_id`, `prev_hash` and `hash` are set when the writing transaction
    commits (listener.models.audit_chain); `luister audit verify` walks them.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int | None] = mapped_column(BigId, index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The hash chain: position, the entry before it, and SHA-256 over this entry and prev_hash.
    seq: Mapped[int | None] = mapped_column(BigId, unique=True)
    prev_id: Mapped[int | None] = mapped_column(BigId)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

"""Incidents: a burst of similar mentions that staff triage and answer as one."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId


class IncidentStatus(enum.StrEnum):
    """An open incident takes in new members; a closed one keeps what it had."""

    OPEN = "open"
    CLOSED = "closed"


class Incident(Base):
    """A burst: its title (top terms), when it started, peaked and ended, and how many joined.

    `mention_count` is kept on the row, so erasing a member's author (moderation.privacy) keeps
    the count; the title is made only of terms that several authors used.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_incidents_started_at_id", "started_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    terms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.OPEN.value, index=True)
    started_at: Mapped[datetime]
    peak_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    author_count: Mapped[int] = mapped_column(Integer, default=0)
    # Why the members were grouped: the counts per kind of link (terms, threads, duplicates).
    explain: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class IncidentMember(Base):
    """A mention in an incident; a mention belongs to at most one incident."""

    __tablename__ = "incident_members"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    # How it joined: "term", "thread" or "duplicate" (the first link found for it).
    reason: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Triage tables: tags, saved views, bulk jobs with undo snapshots, author links, presence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId

# Full-text search lives outside the ORM: on PostgreSQL a generated tsvector column with a GIN
# index, on SQLite an FTS5 table (with its shadow tables) kept in sync by triggers. Both are
# created by migration only; autogenerate and the schema check must not mistake them for
# leftovers to drop.
UNMANAGED_SCHEMA_NAMES = frozenset(
    {
        "search_vector",
        "ix_mentions_search",
        "mentions_fts",
        "mentions_fts_config",
        "mentions_fts_content",
        "mentions_fts_data",
        "mentions_fts_docsize",
        "mentions_fts_idx",
    }
)


class Tag(Base):
    """A free label staff put on mentions (lower case, created on first use)."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MentionTag(Base):
    """A tag on a mention."""

    __tablename__ = "mention_tags"

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoteMention(Base):
    """A staff member @mentioned in an internal note."""

    __tablename__ = "note_mentions"

    note_id: Mapped[int] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class SavedView(Base):
    """A named filter of the queue, personal or shared with the team."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sort: Mapped[str] = mapped_column(String(16), default="priority")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


_JOB_STATES = "'queued', 'running', 'done', 'failed'"


class BulkJob(Base):
    """One bulk action (or the undo of one); the row is the truth, workers only execute it."""

    __tablename__ = "bulk_jobs"
    __table_args__ = (CheckConstraint(f"state IN ({_JOB_STATES})", name="state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_by_label: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    applied: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    undo_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulk_jobs.id", ondelete="SET NULL"), unique=True
    )
    undo_until: Mapped[datetime | None]
    # A runner holds the job while it works; an expired lease means it died and may be resumed.
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class BulkJobItem(Base):
    """One mention in a bulk job: what happened to it and its state before (for undo)."""

    __tablename__ = "bulk_job_items"
    __table_args__ = (Index("ix_bulk_job_items_job_state", "job_id", "state"),)

    job_id: Mapped[int] = mapped_column(
        ForeignKey("bulk_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after_version: Mapped[int | None] = mapped_column(Integer)


class AuthorLink(Base):
    """Staff say two author records are the same person (stored once, lower id first)."""

    __tablename__ = "author_links"
    __table_args__ = (
        UniqueConstraint("author_id", "linked_author_id"),
        CheckConstraint("author_id < linked_author_id", name="ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    linked_author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthorNote(Base):
    """An internal note about an author (the person, not one post)."""

    __tablename__ = "author_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Presence(Base):
    """Who has a mention open right now: a heartbeat that counts for a short TTL."""

    __tablename__ = "presence"

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

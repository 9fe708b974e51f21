"""Mentions, their authors and the organisation's topics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    sql,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from listener.kit.folding import folded_text
from listener.models.base import Base, JSONType, utcnow

# BIGINT on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _folded_of_text(context: Any) -> str:
    """Default of `Mention.folded_text`: the folded words of the row's `text`."""
    return folded_text(context.get_current_parameters().get("text"))


class Author(Base):
    """A person or account on one platform."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("platform", "platform_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_id: Mapped[str] = mapped_column(String(512))
    handle: Mapped[str | None] = mapped_column(String(512))
    display_name: Mapped[str | None] = mapped_column(String(512))
    profile_url: Mapped[str | None] = mapped_column(Text)
    followers: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the author is one of our own accounts (listener.own_accounts keeps it current).
    own_account_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Mention(Base):
    """One public post; unique per source and the platform's id for it."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_mentions_source_thread", "source_id", "thread_external_id"),
        Index("ix_mentions_created_at_id", "created_at", "id"),
        Index("ix_mentions_external_id_platform", "external_id", "platform"),
        # The replies to a post (our earlier replies to a new mention: moderation.queue.own).
        Index(
            "ix_mentions_reply_to_external_id_platform",
            "reply_to_external_id",
            "platform",
            sqlite_where=sql.text("reply_to_external_id IS NOT NULL"),
            postgresql_where=sql.text("reply_to_external_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(512))
    platform: Mapped[str] = mapped_column(String(32), index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("authors.id", ondelete="SET NULL"), index=True
    )
    url: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    language_confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reply_to_external_id: Mapped[str | None] = mapped_column(String(512))
    thread_external_id: Mapped[str | None] = mapped_column(String(512))
    likes: Mapped[int | None] = mapped_column(Integer)
    reposts: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(Integer)
    views: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[dict[str, Any] | None]
    # Hash of content and metrics: tells "updated" from "unchanged" without comparing columns.
    fingerprint: Mapped[str] = mapped_column(String(64))
    sentiment_label: Mapped[str | None] = mapped_column(String(16), index=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    intents: Mapped[list[str]] = mapped_column(JSONType, default=list)
    nlp_version: Mapped[str | None] = mapped_column(String(64))
    # Deletions at the source (listener/sources/recheck.py): when Luister last asked the
    # platform about the post, and when it said the post is gone (hidden, its words dropped).
    source_checked_at: Mapped[datetime | None]
    deleted_at_source: Mapped[datetime | None]
    # The text's case- and accent-folded words (listener.kit.folding), what the query language
    # matches; filled on insert, by ingest when the text changes, emptied with the text (trigger).
    folded_text: Mapped[str] = mapped_column(Text, default=_folded_of_text, server_default="")

    author: Mapped[Author | None] = relationship(lazy="raise")


class Topic(Base):
    """A subject in the organisation's taxonomy, with keywords per language."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The name people read, per language ({"en": "App and website", "nl": "App en website"}).
    labels: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MentionTopic(Base):
    """A topic found in a mention, with the spans that matched it."""

    __tablename__ = "mention_topics"

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    spans: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)

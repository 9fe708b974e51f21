"""Reading the queue: filters, keyset pagination and the detail view of one mention."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import (
    AuditEntry,
    Author,
    Mention,
    MentionTopic,
    Note,
    QueueItem,
    Source,
    Topic,
)
from moderation.errors import InvalidRequest, NotFound

SortOrder = Literal["newest", "priority"]


@dataclass
class MentionFilter:
    """What to narrow the queue to; every field is optional."""

    status: list[str] = field(default_factory=list)
    source_id: int | None = None
    platform: str | None = None
    language: str | None = None
    sentiment: str | None = None
    topic: str | None = None
    author_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class QueueRow:
    """A mention with its author, source and queue state, as the list shows it."""

    mention: Mention
    item: QueueItem
    author: Author | None
    source_name: str


def _sort_columns(sort: SortOrder) -> list[Any]:
    if sort == "priority":
        return [QueueItem.priority, Mention.created_at, Mention.id]
    return [Mention.created_at, Mention.id]


def encode_cursor(sort: SortOrder, row: QueueRow) -> str:
    """An opaque cursor pointing just after `row`."""
    key: list[Any] = [row.mention.created_at.isoformat(), row.mention.id]
    if sort == "priority":
        key = [row.item.priority, *key]
    raw = json.dumps({"s": sort, "k": key}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: SortOrder, cursor: str) -> list[Any]:
    """The key values inside a cursor; it must have been made for the same sort order."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key = list(data["k"])
        if data["s"] != sort or len(key) != len(_sort_columns(sort)):
            raise ValueError("cursor was made for another sort order")
        key[-2] = datetime.fromisoformat(key[-2])
        if not all(isinstance(v, int) for v in (key[-1], *key[:-2])):
            raise ValueError("bad key")
        return key
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise InvalidRequest("cursor: not a cursor this list handed out (for this sort)") from exc


def _after(columns: list[Any], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in an all-descending order (keyset pagination)."""
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal, column < values[i]))
    return or_(*clauses)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(f: MentionFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses for a filter."""
    where: list[ColumnElement[bool]] = []
    if f.status:
        where.append(QueueItem.status.in_(f.status))
    if f.source_id is not None:
        where.append(Mention.source_id == f.source_id)
    if f.platform:
        where.append(Mention.platform == f.platform)
    if f.language:
        where.append(Mention.language == f.language)
    if f.sentiment:
        where.append(Mention.sentiment_label == f.sentiment)
    if f.author_id is not None:
        where.append(Mention.author_id == f.author_id)
    if f.unassigned:
        where.append(QueueItem.assignee_id.is_(None))
    elif f.assignee_id is not None:
        where.append(QueueItem.assignee_id == f.assignee_id)
    if f.since is not None:
        where.append(Mention.created_at >= f.since)
    if f.until is not None:
        where.append(Mention.created_at < f.until)
    if f.text:
        where.append(Mention.text.ilike(f"%{_escape_like(f.text)}%", escape="\\"))
    if f.topic:
        topic_ids = select(Topic.id).where(Topic.name == f.topic)
        linked = select(MentionTopic.mention_id).where(MentionTopic.topic_id.in_(topic_ids))
        where.append(Mention.id.in_(linked))
    return where


async def list_mentions(
    session: AsyncSession,
    *,
    filters: MentionFilter,
    sort: SortOrder = "newest",
    limit: int,
    cursor: str | None = None,
) -> tuple[list[QueueRow], str | None]:
    """One page of the queue and the cursor for the next (None on the last page)."""
    columns = _sort_columns(sort)
    stmt = (
        select(Mention, QueueItem, Author, Source.name)
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id)
        .outerjoin(Author, Author.id == Mention.author_id)
    )
    where = _conditions(filters)
    if cursor:
        where.append(_after(columns, decode_cursor(sort, cursor)))
    stmt = stmt.where(*where).order_by(*(c.desc() for c in columns)).limit(limit + 1)
    result = await session.execute(stmt)
    rows = [QueueRow(m, q, a, name) for m, q, a, name in result.all()]
    next_cursor = encode_cursor(sort, rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


@dataclass(frozen=True)
class MentionDetail:
    """Everything staff need to decide on one mention."""

    row: QueueRow
    thread: list[Mention]
    notes: list[Note]
    history: list[AuditEntry]
    topics: list[tuple[Topic, MentionTopic]]


async def get_mention_detail(session: AsyncSession, *, mention_id: int) -> MentionDetail:
    """The mention with its author, thread context, notes, topics and audit history."""
    result = await session.execute(
        select(Mention, QueueItem, Author, Source.name)
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(Mention.id == mention_id)
    )
    found = result.one_or_none()
    if found is None:
        raise NotFound(f"mention {mention_id} does not exist")
    mention, item, author, source_name = found
    root = mention.thread_external_id or mention.external_id
    in_thread = or_(
        Mention.external_id == root,
        Mention.thread_external_id == root,
        Mention.external_id == mention.reply_to_external_id
        if mention.reply_to_external_id
        else false(),
    )
    thread = (
        await session.execute(
            select(Mention)
            .where(Mention.source_id == mention.source_id, in_thread, Mention.id != mention.id)
            .order_by(Mention.created_at, Mention.id)
            .limit(100)
        )
    ).scalars()
    notes = (
        await session.execute(
            select(Note).where(Note.mention_id == mention_id).order_by(Note.created_at, Note.id)
        )
    ).scalars()
    history = (
        await session.execute(
            select(AuditEntry)
            .where(AuditEntry.mention_id == mention_id)
            .order_by(AuditEntry.created_at, AuditEntry.id)
        )
    ).scalars()
    topics = (
        await session.execute(
            select(Topic, MentionTopic)
            .join(MentionTopic, MentionTopic.topic_id == Topic.id)
            .where(MentionTopic.mention_id == mention_id)
            .order_by(Topic.name)
        )
    ).all()
    return MentionDetail(
        row=QueueRow(mention, item, author, source_name),
        thread=list(thread),
        notes=list(notes),
        history=list(history),
        topics=[(t, mt) for t, mt in topics],
    )

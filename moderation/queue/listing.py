"""Reading the queue: filters, keyset pagination and the detail view of one mention."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener import kit, query
from listener.kit import BadCursor, is_db_int
from listener.kit.strings import escape_like
from listener.models import (
    AuditEntry,
    Author,
    Mention,
    MentionTag,
    MentionTopic,
    Note,
    QueueItem,
    Source,
    Tag,
    Topic,
    utcnow,
)
from moderation.queue import search, sla
from moderation.queue._sql import dialect_of, json_array_contains
from moderation.queue.errors import InvalidRequest, NotFound

SortOrder = Literal["newest", "priority", "relevance"]
# Relevance pages by offset (ranks are not stable keys); deeper than this, refine the search.
MAX_RELEVANCE_OFFSET = 10_000


@dataclass
class MentionFilter:
    """What to narrow the queue to; every field is optional."""

    status: list[str] = field(default_factory=list)
    source_id: int | None = None
    platform: str | None = None
    language: str | None = None
    sentiment: str | None = None
    intent: str | None = None
    topic: str | None = None
    tag: str | None = None
    author_id: int | None = None
    author_ids: list[int] = field(default_factory=list)
    assignee_id: int | None = None
    unassigned: bool = False
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    search: str | None = None
    # A query in the query language (listener.query), checked where it came in.
    query: str | None = None
    min_priority: int | None = None
    breached: bool = False
    due_within_minutes: int | None = None

    def narrowed_by(self, other: MentionFilter) -> MentionFilter:
        """This filter with every field `other` sets (a saved view plus the request's own)."""
        merged = MentionFilter(**{f.name: getattr(self, f.name) for f in fields(self)})
        for f in fields(other):
            value = getattr(other, f.name)
            if value not in (None, False, [], ""):
                setattr(merged, f.name, value)
        return merged


@dataclass(frozen=True)
class QueueRow:
    """A mention with its author, source and queue state, as the list shows it."""

    mention: Mention
    item: QueueItem
    author: Author | None
    source_name: str
    tags: tuple[str, ...] = ()


def _sort_columns(sort: SortOrder) -> list[Any]:
    if sort == "priority":
        # Ties broken by id (ingest order) so the index (priority, mention_id) serves the page.
        return [QueueItem.priority, QueueItem.mention_id]
    return [Mention.created_at, Mention.id]


def encode_cursor(sort: SortOrder, row: QueueRow, *, offset: int = 0) -> str:
    """An opaque cursor pointing just after `row` (or, for relevance, after `offset` rows)."""
    if sort == "relevance":
        return kit.encode_cursor({"s": sort, "o": offset})
    if sort == "priority":
        return kit.encode_cursor({"s": sort, "k": [row.item.priority, row.mention.id]})
    return kit.encode_cursor({"s": sort, "k": [row.mention.created_at.isoformat(), row.mention.id]})


def decode_cursor(sort: SortOrder, cursor: str) -> list[Any]:
    """The key values inside a cursor; it must have been made for the same sort order."""
    try:
        data = kit.decode_cursor(cursor)
        if data["s"] != sort:
            raise ValueError("cursor was made for another sort order")
        if sort == "relevance":
            offset = data["o"]
            if not isinstance(offset, int) or not 0 <= offset <= MAX_RELEVANCE_OFFSET:
                raise ValueError("bad offset")
            return [offset]
        key = list(data["k"])
        if len(key) != 2 or not is_db_int(key[1]):
            raise ValueError("bad key")
        if sort == "newest":
            key[0] = datetime.fromisoformat(key[0])
        elif not is_db_int(key[0]):
            raise ValueError("bad key")
        return key
    except (BadCursor, ValueError, KeyError, TypeError) as exc:
        raise BadCursor("cursor: not a cursor this list handed out (for this sort)") from exc


def _after(columns: list[Any], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in an all-descending order (keyset pagination)."""
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        clauses.append(and_(*equal, column < values[i]))
    return or_(*clauses)


def _conditions(f: MentionFilter, *, dialect: str, now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses for a filter."""
    # Mentions deleted at their source are hidden everywhere the queue is read.
    where: list[ColumnElement[bool]] = [Mention.deleted_at_source.is_(None)]
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
    if f.intent:
        where.append(json_array_contains(dialect, Mention.intents, f.intent))
    if f.author_id is not None:
        where.append(Mention.author_id == f.author_id)
    if f.author_ids:
        where.append(Mention.author_id.in_(f.author_ids))
    if f.unassigned:
        where.append(QueueItem.assignee_id.is_(None))
    elif f.assignee_id is not None:
        where.append(QueueItem.assignee_id == f.assignee_id)
    if f.since is not None:
        where.append(Mention.created_at >= f.since)
    if f.until is not None:
        where.append(Mention.created_at < f.until)
    if f.text:
        where.append(Mention.text.ilike(f"%{escape_like(f.text)}%", escape="\\"))
    if f.search:
        where.append(search.match_condition(dialect, f.search))
    if f.query:
        where.append(query.where_clause(query.parse(f.query), dialect=dialect))
    if f.topic:
        topic_ids = select(Topic.id).where(Topic.name == f.topic)
        linked = select(MentionTopic.mention_id).where(MentionTopic.topic_id.in_(topic_ids))
        where.append(Mention.id.in_(linked))
    if f.tag:
        tag_ids = select(Tag.id).where(Tag.name == f.tag.strip().lower())
        tagged = select(MentionTag.mention_id).where(MentionTag.tag_id.in_(tag_ids))
        where.append(Mention.id.in_(tagged))
    if f.min_priority is not None:
        where.append(QueueItem.priority >= f.min_priority)
    if f.breached:
        where.append(sla.breached(now))
    if f.due_within_minutes is not None:
        where.append(sla.due_within(now, f.due_within_minutes))
    return where


def filter_conditions(
    filters: MentionFilter, *, dialect: str, now: datetime
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter, for other readers of the queue (exports)."""
    return _conditions(filters, dialect=dialect, now=now)


def _base() -> Select[Mention, QueueItem, Author, str]:
    return (
        select(Mention, QueueItem, Author, Source.name)
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id)
        .outerjoin(Author, Author.id == Mention.author_id)
    )


async def tags_for(session: AsyncSession, *, mention_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The tags of each mention, alphabetically."""
    if not mention_ids:
        return {}
    rows = await session.execute(
        select(MentionTag.mention_id, Tag.name)
        .join(Tag, Tag.id == MentionTag.tag_id)
        .where(MentionTag.mention_id.in_(mention_ids))
        .order_by(Tag.name)
    )
    found: dict[int, list[str]] = {}
    for mention_id, name in rows:
        found.setdefault(mention_id, []).append(name)
    return {k: tuple(v) for k, v in found.items()}


async def list_mentions(
    session: AsyncSession,
    *,
    filters: MentionFilter,
    sort: SortOrder = "newest",
    limit: int,
    cursor: str | None = None,
) -> tuple[list[QueueRow], str | None]:
    """One page of the queue and the cursor for the next (None on the last page)."""
    dialect = dialect_of(session)
    where = _conditions(filters, dialect=dialect, now=utcnow())
    stmt = _base()
    offset = 0
    if sort == "relevance":
        if not filters.search:
            raise InvalidRequest("sort: relevance needs a search")
        offset = decode_cursor(sort, cursor)[0] if cursor else 0
        if await search.ranks_in_index(session):
            # The index hands out matches best first: only the page's rows are read. Ties keep
            # the index's order, which is the same on every page; an id as a second key would
            # make PostgreSQL sort every match instead.
            stmt = stmt.where(*where).order_by(search.distance(filters.search)).offset(offset)
            return await _page(session, stmt, sort=sort, limit=limit, offset=offset)
        rank = search.relevance(dialect, filters.search)
        # Every match is ranked on its id and vector alone; only the page is then read whole.
        ranked = (
            select(Mention.id.label("id"), rank.label("rank"))
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .join(Source, Source.id == Mention.source_id)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(*where)
            .order_by(rank.desc(), Mention.id.desc())
            .offset(offset)
            .limit(limit + 1)
            .subquery()
        )
        stmt = stmt.join(ranked, ranked.c.id == Mention.id).order_by(
            ranked.c.rank.desc(), Mention.id.desc()
        )
    else:
        columns = _sort_columns(sort)
        if cursor:
            where.append(_after(columns, decode_cursor(sort, cursor)))
        stmt = stmt.where(*where).order_by(*(c.desc() for c in columns))
    return await _page(session, stmt, sort=sort, limit=limit, offset=offset)


async def _page(
    session: AsyncSession,
    stmt: Select[Mention, QueueItem, Author, str],
    *,
    sort: SortOrder,
    limit: int,
    offset: int,
) -> tuple[list[QueueRow], str | None]:
    """Run a page's statement: its rows with their tags, and the cursor for the next page."""
    result = await session.execute(stmt.limit(limit + 1))
    rows = [QueueRow(m, q, a, name) for m, q, a, name in result.all()]
    tags = await tags_for(session, mention_ids=[r.mention.id for r in rows[:limit]])
    page = [
        QueueRow(r.mention, r.item, r.author, r.source_name, tags.get(r.mention.id, ()))
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit and offset + limit <= MAX_RELEVANCE_OFFSET:
        next_cursor = encode_cursor(sort, rows[limit - 1], offset=offset + limit)
    return page, next_cursor


async def count_mentions(
    session: AsyncSession, *, filters: MentionFilter, cap: int = 10_000
) -> tuple[int, bool]:
    """How many mentions match, counting at most `cap` (True when there are more)."""
    where = _conditions(filters, dialect=dialect_of(session), now=utcnow())
    matching = (
        select(Mention.id)
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .where(*where)
        .limit(cap + 1)
        .subquery()
    )
    found = (await session.execute(select(func.count()).select_from(matching))).scalar_one()
    return min(found, cap), found > cap


async def matching_ids(session: AsyncSession, *, filters: MentionFilter, limit: int) -> list[int]:
    """The ids of up to `limit` + 1 matching mentions, most urgent first."""
    where = _conditions(filters, dialect=dialect_of(session), now=utcnow())
    rows = await session.execute(
        select(Mention.id)
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .where(*where)
        .order_by(QueueItem.priority.desc(), QueueItem.mention_id.desc())
        .limit(limit + 1)
    )
    return list(rows.scalars())


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
    result = await session.execute(_base().where(Mention.id == mention_id))
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
            .where(
                Mention.source_id == mention.source_id,
                in_thread,
                Mention.id != mention.id,
                Mention.deleted_at_source.is_(None),
            )
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
    tags = await tags_for(session, mention_ids=[mention_id])
    return MentionDetail(
        row=QueueRow(mention, item, author, source_name, tags.get(mention_id, ())),
        thread=list(thread),
        notes=list(notes),
        history=list(history),
        topics=[(t, mt) for t, mt in topics],
    )

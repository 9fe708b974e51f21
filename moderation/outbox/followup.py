"""Following what we posted: the answers to our questions, and authors writing back to us.

A worker reads the thread under each recently sent reply or question (Mastodon status context,
Bluesky post thread, Reddit/Discourse/Lemmy comments, Stack Exchange answers) and ingests what
it finds as mentions. A reaction to every ingest (wired by `api.wiring`) then links replies to
our questions as answers (ranked high in the queue) and re-opens an answered item when its
author replies to our answer, whichever poll heard them first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from connectors.http import describe_error
from connectors.items import MentionIn
from connectors.writes import PostRef
from listener.events import QUESTION_ANSWERED, NewEvent, record_events
from listener.kit.id_lists import ids_in
from listener.models import (
    Author,
    Mention,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Question,
    QuestionAnswer,
    Source,
    Status,
    utcnow,
)
from listener.reactions import MentionsChanged, MentionsHook
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.outbox.sending import post_ref, writer_and_config
from moderation.queue import workflow

log = logging.getLogger(__name__)

HOOK_NAME = "moderation.outbox.followup"


@dataclass(frozen=True)
class Followed:
    """What reading one thread found."""

    outbox_id: int
    seen: int
    new: int
    error: str | None = None


async def due_follows(
    session: AsyncSession, *, settings: Settings, now: datetime | None = None, limit: int = 50
) -> list[int]:
    """Sent rows whose thread is still watched and was not read in the last interval."""
    now = now or utcnow()
    open_questions = select(Question.id).where(
        Question.status == "open", Question.follow_until > now
    )
    questions = OutboxMessage.question_id.in_(open_questions)
    replies = and_(
        OutboxMessage.question_id.is_(None),
        OutboxMessage.kind == OutboxKind.REPLY.value,
        OutboxMessage.sent_at > now - timedelta(hours=settings.reply_follow_hours),
    )
    rested = now - timedelta(seconds=settings.follow_interval_seconds)
    rows = await session.execute(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.SENT.value,
            or_(questions, replies),
            or_(OutboxMessage.followed_at.is_(None), OutboxMessage.followed_at < rested),
        )
        .order_by(OutboxMessage.followed_at.is_not(None), OutboxMessage.followed_at)
        .limit(limit)
    )
    return list(rows.scalars())


def descendants_of(items: Sequence[MentionIn], root_external_id: str) -> list[MentionIn]:
    """The items whose chain of replies leads up to `root_external_id`."""
    parent = {i.external_id: i.reply_to_external_id for i in items}
    found = []
    for item in items:
        seen: set[str] = set()
        up = item.reply_to_external_id
        while up is not None and up != root_external_id and up not in seen:
            seen.add(up)
            up = parent.get(up)
        if up == root_external_id:
            found.append(item)
    return found


async def _root(session: AsyncSession, row: OutboxMessage) -> PostRef:
    """Where to read: our own post for questions, the answered mention's thread otherwise."""
    mention = await session.get(Mention, row.mention_id) if row.mention_id is not None else None
    if row.question_id is None and mention is not None:
        author = await session.get(Author, mention.author_id) if mention.author_id else None
        return post_ref(mention, author, writing_source_id=row.source_id)
    thread = (mention.thread_external_id or mention.external_id) if mention else None
    return PostRef(
        external_id=str(row.external_id),
        url=row.url,
        platform_id=row.platform_id,
        thread_external_id=thread,
        raw=dict(row.platform_raw or {}),
    )


async def follow_thread(
    sessions: async_sessionmaker[AsyncSession],
    *,
    outbox_id: int,
    settings: Settings,
    client: httpx.AsyncClient,
) -> Followed:
    """Read one sent row's thread and ingest what is in it (answers link through the hook)."""
    async with sessions() as session:
        row = await session.get(OutboxMessage, outbox_id)
        if row is None or row.status != OutboxStatus.SENT.value or row.external_id is None:
            return Followed(outbox_id, 0, 0, "not a sent row")
        source = await session.get(Source, row.source_id) if row.source_id else None
        root = await _root(session, row)
        is_follow_up = row.question_id is not None and row.kind == OutboxKind.REPLY.value
        source_id = row.source_id
    try:
        writer, config = writer_and_config(source, settings)
        thread = await writer.thread(client=client, config=config, root=root)
    except Exception as exc:  # one unreadable thread must not stop the others
        error = describe_error(exc)
        log.warning("reading the thread of outbox row %s failed: %s", outbox_id, error)
        await _mark_followed(sessions, outbox_id)
        return Followed(outbox_id, 0, 0, error)
    items = thread.items
    if is_follow_up:
        # Under a mention's thread only the replies to our question are its answers.
        items = descendants_of(items, str(row.external_id))
    async with sessions() as session, session.begin():
        # What we posted ourselves is in the thread too, but it is no mention to answer.
        ours = await _our_external_ids(session, [i.external_id for i in items])
        items = [i for i in items if i.external_id not in ours]
        report = await ingest_mentions(session, items, source_id=source_id)
        if row.question_id is not None:
            ids = await _mention_ids(session, items)
            await link_answers(
                session, question_id=row.question_id, mention_ids=ids, settings=settings
            )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(followed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return Followed(outbox_id, len(items), report.new)


async def _mark_followed(sessions: async_sessionmaker[AsyncSession], outbox_id: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id)
            .values(followed_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def _our_external_ids(session: AsyncSession, external_ids: list[str]) -> set[str]:
    if not external_ids:
        return set()
    rows = await session.execute(
        select(OutboxMessage.external_id).where(OutboxMessage.external_id.in_(external_ids))
    )
    return {e for e in rows.scalars() if e is not None}


async def _mention_ids(session: AsyncSession, items: Iterable[MentionIn]) -> list[int]:
    wanted = {(i.platform, i.external_id) for i in items}
    if not wanted:
        return []
    rows = await session.execute(
        select(Mention.id, Mention.platform, Mention.external_id).where(
            Mention.external_id.in_([e for _, e in wanted])
        )
    )
    return [r.id for r in rows if (r.platform, r.external_id) in wanted]


async def link_answers(
    session: AsyncSession, *, question_id: int, mention_ids: Sequence[int], settings: Settings
) -> list[int]:
    """Link mentions to a question as its answers (they rank high in the queue); return the
    newly linked."""
    if not mention_ids:
        return []
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(QuestionAnswer)
    now = utcnow()
    linked = await session.execute(
        insert.values(
            [{"question_id": question_id, "mention_id": m, "linked_at": now} for m in mention_ids]
        )
        .on_conflict_do_nothing(index_elements=["question_id", "mention_id"])
        .returning(QuestionAnswer.mention_id)
    )
    fresh = list(linked.scalars())
    await record_events(
        session,
        [
            NewEvent(
                QUESTION_ANSWERED,
                f"question:{question_id}",
                {"question_id": question_id, "mention_id": m},
                mention_id=m,
            )
            for m in fresh
        ],
    )
    # Every time, not only when first linked: a priority recompute may have run since.
    for mention_id in mention_ids:
        await workflow.raise_priority(
            session,
            mention_id=mention_id,
            at_least=settings.question_answer_priority,
            reason=f"answers question {question_id}",
        )
    return fresh


# Made once: aliasing a table as wide as mentions copies every column, about a millisecond
# each time, which every ingest batch paid twice.
_REPLY = aliased(Mention, name="reply")
_ANSWERED = aliased(Mention, name="answered")


async def react_to_new_mentions(
    session: AsyncSession, change: MentionsChanged, *, settings: Settings
) -> None:
    """Link direct replies to our questions; re-open items whose author replied to our answer."""
    if not change.new_ids:
        return
    reply, answered = _REPLY, _ANSWERED
    rows = await session.execute(
        select(
            reply.id, reply.author_id, OutboxMessage.question_id, answered.id, answered.author_id
        )
        .join(OutboxMessage, OutboxMessage.external_id == reply.reply_to_external_id)
        .outerjoin(answered, answered.id == OutboxMessage.mention_id)
        .where(
            ids_in(session, reply.id, change.new_ids),
            OutboxMessage.status == OutboxStatus.SENT.value,
        )
    )
    for reply_id, reply_author, question_id, answered_id, answered_author in rows.all():
        if question_id is not None:
            await link_answers(
                session, question_id=question_id, mention_ids=[reply_id], settings=settings
            )
        if answered_id is not None and reply_author is not None and reply_author == answered_author:
            await workflow.apply_event_status(
                session,
                mention_id=answered_id,
                status=Status.OPEN,
                reason=f"the author replied to our answer (mention {reply_id})",
                only_from=frozenset({Status.ANSWERED}),
            )


def followup_reaction(settings: Settings) -> MentionsHook:
    """The reaction the wiring adds to every ingest: answers linked, answered items re-opened."""

    async def _react(session: AsyncSession, change: MentionsChanged) -> None:
        await react_to_new_mentions(session, change, settings=settings)

    return _react

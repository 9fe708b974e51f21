"""Questions the team asks the community, and the answers Luister hears back.

Asking creates a question and an outbox row (a new post on a source, or a follow-up reply under
a mention); `moderation.outbox.followup` links what people answer. The question view sums up the
answers: how they feel, what they are about, and which nobody has read yet.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import (
    Author,
    Mention,
    MentionTopic,
    OutboxMessage,
    Question,
    QuestionAnswer,
    Source,
    Topic,
    User,
    utcnow,
)
from listener.settings import Settings
from moderation.outbox import service as outbox
from moderation.queue import audit
from moderation.queue.errors import InvalidRequest, NotFound


async def ask(
    session: AsyncSession,
    *,
    body: str,
    actor: User,
    settings: Settings,
    source_id: int | None = None,
    mention_id: int | None = None,
    title: str | None = None,
    language: str | None = None,
    actor_label: str | None = None,
) -> tuple[Question, OutboxMessage]:
    """A question as a new post on `source_id`, or as a follow-up reply to `mention_id`."""
    if (source_id is None) == (mention_id is None):
        raise InvalidRequest("give either source_id (a new post) or mention_id (a follow-up)")
    mention = await session.get(Mention, mention_id) if mention_id is not None else None
    if mention_id is not None and mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    if source_id is not None and await session.get(Source, source_id) is None:
        # Before the question row: its foreign key would fail as a server error.
        raise InvalidRequest(f"source_id: no source with id {source_id}")
    question = Question(
        source_id=source_id if mention is None else mention.source_id,
        mention_id=mention_id,
        title=title,
        body=body,
        created_by_id=actor.id,
        follow_until=utcnow() + timedelta(days=settings.question_follow_days),
    )
    session.add(question)
    await session.flush()
    if mention_id is not None:
        row = await outbox.create_reply(
            session,
            mention_id=mention_id,
            body=body,
            actor=actor,
            actor_label=actor_label,
            language=language,
            question_id=question.id,
        )
    else:
        assert source_id is not None
        row = await outbox.create_post(
            session,
            source_id=source_id,
            body=body,
            title=title,
            language=language,
            actor=actor,
            actor_label=actor_label,
            question_id=question.id,
        )
    audit.record(
        session,
        action="question.ask",
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
        entity="question",
        entity_id=question.id,
        after={"source_id": question.source_id, "outbox_id": row.id, "title": title},
    )
    return question, row


@dataclass(frozen=True)
class AnswerRow:
    """One answer: the mention, its author, and whether staff read it."""

    link: QuestionAnswer
    mention: Mention
    author: Author | None


@dataclass(frozen=True)
class QuestionView:
    """A question with its answers summed up."""

    question: Question
    posts: list[OutboxMessage]
    answers: list[AnswerRow]
    sentiment: dict[str, int]
    topics: list[tuple[str, int]]
    unread: int


async def get_question(session: AsyncSession, *, question_id: int) -> Question:
    """One question."""
    question = await session.get(Question, question_id)
    if question is None:
        raise NotFound(f"question {question_id} does not exist")
    return question


async def question_view(session: AsyncSession, *, question_id: int) -> QuestionView:
    """The question, where it was posted, its answers and their summary."""
    question = await get_question(session, question_id=question_id)
    posts = list(
        (
            await session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.question_id == question_id)
                .order_by(OutboxMessage.id)
            )
        ).scalars()
    )
    rows = await session.execute(
        select(QuestionAnswer, Mention, Author)
        .join(Mention, Mention.id == QuestionAnswer.mention_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(QuestionAnswer.question_id == question_id)
        .order_by(Mention.created_at, Mention.id)
    )
    answers = [AnswerRow(link, mention, author) for link, mention, author in rows.all()]
    sentiment = Counter(a.mention.sentiment_label or "unknown" for a in answers)
    topic_rows = await session.execute(
        select(Topic.name, func.count(MentionTopic.mention_id))
        .join(MentionTopic, MentionTopic.topic_id == Topic.id)
        .join(QuestionAnswer, QuestionAnswer.mention_id == MentionTopic.mention_id)
        .where(QuestionAnswer.question_id == question_id)
        .group_by(Topic.name)
        .order_by(func.count(MentionTopic.mention_id).desc(), Topic.name)
    )
    return QuestionView(
        question=question,
        posts=posts,
        answers=answers,
        sentiment=dict(sentiment),
        topics=[(name, count) for name, count in topic_rows.all()],
        unread=sum(1 for a in answers if a.link.read_at is None),
    )


async def list_questions(
    session: AsyncSession, *, status: str | None = None
) -> list[tuple[Question, int, int]]:
    """Questions, newest first, with how many answers each has and how many are unread."""
    answers = func.count(QuestionAnswer.mention_id)
    unread = func.count(QuestionAnswer.mention_id).filter(QuestionAnswer.read_at.is_(None))
    stmt = (
        select(Question, answers, unread)
        .outerjoin(QuestionAnswer, QuestionAnswer.question_id == Question.id)
        .group_by(Question.id)
        .order_by(Question.id.desc())
        .limit(200)
    )
    if status:
        stmt = stmt.where(Question.status == status)
    return [(q, n, u) for q, n, u in (await session.execute(stmt)).all()]


async def mark_read(
    session: AsyncSession,
    *,
    question_id: int,
    actor: User,
    mention_ids: list[int] | None = None,
    actor_label: str | None = None,
) -> int:
    """Mark answers (all, or those in `mention_ids`) read; return how many changed."""
    await get_question(session, question_id=question_id)
    stmt = update(QuestionAnswer).where(
        QuestionAnswer.question_id == question_id, QuestionAnswer.read_at.is_(None)
    )
    if mention_ids is not None:
        stmt = stmt.where(QuestionAnswer.mention_id.in_(mention_ids))
    result = await session.execute(
        stmt.values(read_at=utcnow(), read_by_id=actor.id)
        .returning(QuestionAnswer.mention_id)
        .execution_options(synchronize_session=False)
    )
    marked = list(result.scalars())
    if marked:
        audit.record(
            session,
            action="question.read",
            actor=actor,
            actor_label=actor_label,
            entity="question",
            entity_id=question_id,
            after={"mention_ids": marked},
        )
    return len(marked)


async def close_question(
    session: AsyncSession, *, question_id: int, actor: User, actor_label: str | None = None
) -> Question:
    """Stop collecting answers."""
    question = await get_question(session, question_id=question_id)
    before = {"status": question.status}
    question.status = "closed"
    question.follow_until = min(question.follow_until, utcnow())
    audit.record(
        session,
        action="question.close",
        actor=actor,
        actor_label=actor_label,
        entity="question",
        entity_id=question_id,
        before=before,
        after={"status": "closed"},
    )
    return question

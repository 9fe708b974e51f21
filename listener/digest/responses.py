"""Digest sections about the team: open questions, response times, moderation throughput.

Response time is the author's wait: from the mention's creation to its first answer, as the
queue stamps it (`first_response_at`: a reply sent through Luister, one written on the platform
by our own account, or a moderator marking it answered). Resolving without an answer is not a
response. The queue's SLA states read the same columns, so queue and digest agree.
Percentiles use the nearest-rank method with ORDER BY ...
OFFSET, which both backends run without loading the durations into Python.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.document import (
    PersonActions,
    Questions,
    ResponseTimes,
    Sla,
    Throughput,
    WaitingQuestion,
)
from listener.digest.listening import card_columns, card_fields
from listener.digest.periods import Period
from listener.digest.query import (
    WAITING_STATUSES,
    MentionFilter,
    dialect_of,
    has_intent,
    seconds_between,
    within,
)
from listener.models import AuditEntry, Author, Mention, QueueItem
from listener.own_accounts import by_us

OLDEST = 10


def _sum(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def questions_and_sla(
    session: AsyncSession,
    *,
    period: Period,
    filt: MentionFilter,
    now: datetime,
    target_hours: float,
) -> tuple[Questions, Sla]:
    """Questions asked and still waiting (with the oldest open ones), and SLA outcomes.

    SLA results are read where the queue records them (moderation.queue.sla stamps `sla_outcome`
    and `due_at` on queue items); without them the section says it is not available rather
    than guessing. Both come from one pass over the period's queue items.
    """
    is_question = has_intent("question", dialect_of(session))
    waiting = QueueItem.status.in_(WAITING_STATUSES)
    overdue = Mention.created_at < now - timedelta(hours=target_hours)
    outcome = getattr(QueueItem, "sla_outcome", None)
    due = getattr(QueueItem, "due_at", None)
    columns = [
        _sum(is_question),
        _sum(is_question & waiting),
        _sum(is_question & waiting & overdue),
    ]
    if outcome is not None and due is not None:
        columns += [
            _sum(outcome == "met"),
            _sum(outcome == "missed"),
            _sum(outcome.is_(None) & waiting & (due < now)),
            func.count(due),
        ]
    counts = (
        await session.execute(
            select(*columns)
            .select_from(Mention)
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .where(*within(period.start, period.end, filt))
        )
    ).one()
    values: list[int] = [int(v) for v in counts]
    asked, still_waiting, late = values[:3]
    sla = Sla(available=False)
    if len(values) > 3:
        met, missed, breached, with_target = values[3:]
        sla = Sla(
            available=with_target > 0,
            met=met,
            missed=missed,
            waiting_past_due=breached,
            with_target=with_target,
        )
    backlog, oldest = await _open_questions(
        session, end=period.end, filt=filt, is_question=is_question & waiting, now=now
    )
    questions = Questions(
        asked=asked,
        unanswered=still_waiting,
        unanswered_past_target=late,
        unanswered_total=backlog,
        oldest=oldest,
        status_as_of=now.isoformat(),
    )
    return questions, sla


async def _open_questions(
    session: AsyncSession,
    *,
    end: datetime,
    filt: MentionFilter,
    is_question: ColumnElement[bool],
    now: datetime,
) -> tuple[int, list[WaitingQuestion]]:
    # Questions from before the period that are still open belong in the digest too.
    conds = [Mention.created_at < end, *filt.conditions(), is_question]
    backlog = (
        await session.execute(
            select(func.count())
            .select_from(Mention)
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .where(*conds)
        )
    ).scalar_one()
    oldest = await session.execute(
        select(*card_columns(), QueueItem.status)
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(*conds)
        .order_by(Mention.created_at, Mention.id)
        .limit(OLDEST)
    )
    return backlog, [
        WaitingQuestion(
            **card_fields(r),
            status=r.status,
            waiting_hours=round((now - r.created_at).total_seconds() / 3600, 1),
        )
        for r in oldest
    ]


async def response_times(
    session: AsyncSession, *, period: Period, filt: MentionFilter, target_hours: float
) -> ResponseTimes:
    """Median and p90 time to first response, and how many met the response target."""
    first = (
        select(
            Mention.created_at.label("created"),
            QueueItem.first_response_at.label("at"),
        )
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .where(
            *within(period.start, period.end, filt),
            QueueItem.first_response_at.is_not(None),
        )
        .subquery()
    )
    durations = select(
        seconds_between(first.c.at, first.c.created, dialect_of(session)).label("s")
    ).subquery()
    target = target_hours * 3600
    responded, met = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((durations.c.s <= target, 1), else_=0)), 0),
            )
        )
    ).one()

    async def percentile(p: float) -> float | None:
        if not responded:
            return None
        rank = max(math.ceil(p * responded) - 1, 0)
        value = (
            await session.execute(
                select(durations.c.s).order_by(durations.c.s).offset(rank).limit(1)
            )
        ).scalar_one()
        return round(float(value), 1)

    ours = [c for c in filt.conditions()[1:]]  # the filter, without "not by us"
    our_posts = (
        await session.execute(
            select(func.count())
            .select_from(Mention)
            .where(
                Mention.created_at >= period.start, Mention.created_at < period.end, by_us(), *ours
            )
        )
    ).scalar_one()
    return ResponseTimes(
        our_posts=our_posts,
        responded=responded,
        median_seconds=await percentile(0.5),
        p90_seconds=await percentile(0.9),
        target_hours=target_hours,
        within_target=met,
        missed_target=responded - met,
    )


async def throughput(session: AsyncSession, *, period: Period, filt: MentionFilter) -> Throughput:
    """Status changes the team made in the period, per new status and per person."""
    conds = [
        AuditEntry.entity == "mention",
        AuditEntry.action == "status",
        AuditEntry.created_at >= period.start,
        AuditEntry.created_at < period.end,
    ]
    base = select(AuditEntry.id).where(*conds)
    if filt.conditions():
        base = base.join(Mention, Mention.id == AuditEntry.mention_id).where(*filt.conditions())
    ids = base.subquery()
    status = AuditEntry.after["status"].as_string()
    by_status = {
        s or "unknown": n
        for s, n in await session.execute(
            select(status, func.count()).where(AuditEntry.id.in_(select(ids.c.id))).group_by(status)
        )
    }
    people = await session.execute(
        select(AuditEntry.actor, func.count().label("n"))
        .where(AuditEntry.id.in_(select(ids.c.id)))
        .group_by(AuditEntry.actor)
        .order_by(func.count().desc(), AuditEntry.actor)
    )
    by_person = [PersonActions(actor=actor, actions=n) for actor, n in people]
    return Throughput(
        actions=sum(by_status.values()),
        by_status=dict(sorted(by_status.items())),
        closed=sum(
            n for s, n in by_status.items() if s in ("answered", "resolved", "hidden", "spam")
        ),
        people=len(by_person),
        by_person=by_person[:5],
    )

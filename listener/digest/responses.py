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
    quotable,
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
) -> tuple[Questions, Sla, tuple[int, int]]:
    """Questions asked and still waiting (with the oldest open ones), SLA outcomes, and how
    many mentions got a first response (and how many of those within the target).

    SLA results are read where the queue records them (moderation.queue.sla stamps `sla_outcome`
    and `due_at` on queue items); without them the section says it is not available rather
    than guessing. All come from one pass over the period's queue items.
    """
    dialect = dialect_of(session)
    is_question = has_intent("question", dialect)
    waiting = QueueItem.status.in_(WAITING_STATUSES)
    overdue = Mention.created_at < now - timedelta(hours=target_hours)
    outcome = getattr(QueueItem, "sla_outcome", None)
    due = getattr(QueueItem, "due_at", None)
    wait = seconds_between(QueueItem.first_response_at, Mention.created_at, dialect)
    columns = [
        func.count(QueueItem.first_response_at),
        _sum(wait <= target_hours * 3600),
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
    responded, within_target, *values = [int(v) for v in counts]
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
    return questions, sla, (responded, within_target)


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
    # One read gives both: the window count sees every matching row before the LIMIT, and
    # only the oldest few are then joined for their text and author.
    # PostgreSQL gathers the matching rows first (MATERIALIZED), then sorts them: otherwise the
    # ORDER BY ... LIMIT lures its planner into walking the whole history by the created_at index.
    # Questions the digest may not quote (gone from the platform, erased) count in the backlog
    # and sort after the others, so the list shows the oldest of the rest.
    matching = (
        select(
            Mention.id.label("id"),
            Mention.created_at.label("created_at"),
            QueueItem.status.label("status"),
            case((quotable(), 0), else_=1).label("hidden"),
        )
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .where(*conds)
        .cte("waiting_questions")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    first = (
        select(
            matching.c.id,
            matching.c.created_at,
            matching.c.status,
            matching.c.hidden,
            func.count().over().label("backlog"),
        )
        .order_by(matching.c.hidden, matching.c.created_at, matching.c.id)
        .limit(OLDEST)
        .subquery()
    )
    oldest = (
        await session.execute(
            select(*card_columns(), first.c.status, first.c.hidden, first.c.backlog)
            .join(first, first.c.id == Mention.id)
            .outerjoin(Author, Author.id == Mention.author_id)
            .order_by(first.c.hidden, first.c.created_at, first.c.id)
        )
    ).all()
    backlog = int(oldest[0].backlog) if oldest else 0
    return backlog, [
        WaitingQuestion(
            **card_fields(r),
            status=r.status,
            waiting_hours=round((now - r.created_at).total_seconds() / 3600, 1),
        )
        for r in oldest
        if not r.hidden
    ]


async def response_times(
    session: AsyncSession,
    *,
    period: Period,
    filt: MentionFilter,
    target_hours: float,
    answered: tuple[int, int] | None = None,
) -> ResponseTimes:
    """Median and p90 time to first response, and how many met the response target.

    `answered` is (responded, within target) when `questions_and_sla` already counted them.
    """
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
        answered
        or (
            await session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(case((durations.c.s <= target, 1), else_=0)), 0),
                )
            )
        ).one()
    )

    percentiles: dict[float, float | None] = {0.5: None, 0.9: None}
    if responded:
        # Nearest rank; one sort of the waits serves both percentiles.
        ranks = {p: max(math.ceil(p * responded) - 1, 0) + 1 for p in percentiles}
        ordered = select(
            durations.c.s, func.row_number().over(order_by=durations.c.s).label("rn")
        ).subquery()
        found = {
            int(rn): float(value)
            for rn, value in await session.execute(
                select(ordered.c.rn, ordered.c.s).where(ordered.c.rn.in_(set(ranks.values())))
            )
        }
        percentiles = {p: round(found[rank], 1) for p, rank in ranks.items()}

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
        median_seconds=percentiles[0.5],
        p90_seconds=percentiles[0.9],
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
    # Whether the changed mention passes the filter is looked up per entry, by its primary
    # key: a join let the planner read every mention ever stored to match a few thousand
    # entries. (A scalar subquery, unlike EXISTS, is not turned into such a join.)
    passes = (
        select(func.count())
        .select_from(Mention)
        .where(Mention.id == AuditEntry.mention_id, *filt.conditions())
        .scalar_subquery()
    )
    ids = select(AuditEntry.id).where(*conds, passes > 0).subquery()
    status = AuditEntry.after["status"].as_string()
    # One read: counts per (status, person); each person's total orders the people, in SQL so
    # names sort by the database's collation as before.
    pairs = (
        select(status.label("status"), AuditEntry.actor.label("actor"), func.count().label("n"))
        .where(AuditEntry.id.in_(select(ids.c.id)))
        .group_by(status, AuditEntry.actor)
        .subquery()
    )
    per_person = func.sum(pairs.c.n).over(partition_by=pairs.c.actor)
    by_status: dict[str, int] = {}
    people: dict[str, int] = {}
    for s, actor, n, total in await session.execute(
        select(pairs.c.status, pairs.c.actor, pairs.c.n, per_person).order_by(
            per_person.desc(), pairs.c.actor
        )
    ):
        by_status[s or "unknown"] = by_status.get(s or "unknown", 0) + int(n)
        people[actor] = int(total)
    by_person = [PersonActions(actor=actor, actions=n) for actor, n in people.items()]
    return Throughput(
        actions=sum(by_status.values()),
        by_status=dict(sorted(by_status.items())),
        closed=sum(
            n for s, n in by_status.items() if s in ("answered", "resolved", "hidden", "spam")
        ),
        people=len(by_person),
        by_person=by_person[:5],
    )

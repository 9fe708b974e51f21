"""Authors across platforms: staff link records that are one person; the person's history.

None of Discourse, Chatwoot or Ozone links identities across platforms. Links are stored
pairwise and a person is the connected group, so unlinking one pair undoes exactly that link.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.strings import escape_like
from listener.models import Author, AuthorLink, AuthorNote, Mention, QueueItem, Response, User
from moderation.queue import audit
from moderation.queue.errors import Conflict, InvalidRequest, NotFound

HISTORY_LIMIT = 5000


async def identities_of(
    session: AsyncSession, *, author_ids: Iterable[int]
) -> dict[int, frozenset[int]]:
    """For each author, every author record linked to it (itself included)."""
    wanted = set(author_ids)
    neighbours: dict[int, set[int]] = {a: set() for a in wanted}
    visited: set[int] = set()
    frontier = set(wanted)
    while frontier:
        visited |= frontier
        rows = await session.execute(
            select(AuthorLink.author_id, AuthorLink.linked_author_id).where(
                or_(
                    AuthorLink.author_id.in_(frontier),
                    AuthorLink.linked_author_id.in_(frontier),
                )
            )
        )
        for a, b in rows:
            neighbours.setdefault(a, set()).add(b)
            neighbours.setdefault(b, set()).add(a)
        frontier = {n for f in frontier for n in neighbours.get(f, ())} - visited
    groups: dict[int, frozenset[int]] = {}
    for author in wanted:
        if author not in groups:
            group = _component(neighbours, author)
            groups.update(dict.fromkeys(group, group))
    return {a: groups[a] for a in wanted}


async def link_suggestions(
    session: AsyncSession, *, author: Author, group: set[int]
) -> list[Author]:
    """Authors elsewhere who may be this person: the same display name or the same local name."""
    names: list[Any] = []
    if author.display_name and author.display_name.strip():
        names.append(func.lower(Author.display_name) == author.display_name.strip().lower())
    local = (author.handle or "").lstrip("@").split("@")[0].strip().lower()
    if len(local) >= 3:
        names.append(func.lower(Author.handle) == local)
        names.append(func.lower(Author.handle).like(f"{escape_like(local)}@%", escape="\\"))
        names.append(func.lower(Author.handle).like(f"@{escape_like(local)}@%", escape="\\"))
    if not names:
        return []
    rows = await session.execute(
        select(Author)
        .where(or_(*names), Author.id.not_in(group), Author.platform != author.platform)
        .order_by(Author.id)
        .limit(5)
    )
    return list(rows.scalars())


def _component(neighbours: dict[int, set[int]], start: int) -> frozenset[int]:
    seen, stack = {start}, [start]
    while stack:
        for n in neighbours.get(stack.pop(), ()):
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return frozenset(seen)


async def _author(session: AsyncSession, author_id: int) -> Author:
    author = await session.get(Author, author_id)
    if author is None:
        raise NotFound(f"author {author_id} does not exist")
    return author


async def link_authors(
    session: AsyncSession, *, author_id: int, other_id: int, actor: User, note: str | None = None
) -> AuthorLink:
    """Record that two author records are the same person (409 if they already are)."""
    if author_id == other_id:
        raise InvalidRequest("other_author_id: an author is already the same person as itself")
    await _author(session, author_id)
    await _author(session, other_id)
    group = (await identities_of(session, author_ids=[author_id]))[author_id]
    if other_id in group:
        raise Conflict(f"authors {author_id} and {other_id} are already linked")
    low, high = sorted((author_id, other_id))
    link = AuthorLink(author_id=low, linked_author_id=high, note=note, created_by=actor.id)
    session.add(link)
    try:
        await session.flush()
    except IntegrityError as exc:  # a colleague linked the same pair a moment ago
        raise Conflict(f"authors {author_id} and {other_id} are already linked") from exc
    audit.record(
        session,
        action="author_link",
        actor=actor,
        entity="author",
        entity_id=low,
        before=None,
        after={"author_id": low, "linked_author_id": high, "note": note},
    )
    return link


async def unlink_authors(
    session: AsyncSession, *, author_id: int, other_id: int, actor: User
) -> None:
    """Remove the direct link between two author records (404 if there is none)."""
    low, high = sorted((author_id, other_id))
    removed = await session.execute(
        delete(AuthorLink)
        .where(AuthorLink.author_id == low, AuthorLink.linked_author_id == high)
        .returning(AuthorLink.id)
    )
    if removed.scalar_one_or_none() is None:
        raise NotFound(f"authors {author_id} and {other_id} are not directly linked")
    audit.record(
        session,
        action="author_unlink",
        actor=actor,
        entity="author",
        entity_id=low,
        before={"author_id": low, "linked_author_id": high},
        after=None,
    )


async def add_author_note(
    session: AsyncSession, *, author_id: int, body: str, actor: User
) -> AuthorNote:
    """Keep a note about the person (seen on every linked identity)."""
    await _author(session, author_id)
    note = AuthorNote(author_id=author_id, user_id=actor.id, body=body)
    session.add(note)
    await session.flush()
    audit.record(
        session,
        action="author_note",
        actor=actor,
        entity="author",
        entity_id=author_id,
        after={"note_id": note.id},
    )
    return note


@dataclass(frozen=True)
class SentimentWeek:
    """How the person's mentions felt in one week (Monday, UTC)."""

    week: date
    mentions: int
    positive: int
    neutral: int
    negative: int
    average: float | None


@dataclass(frozen=True)
class Responsiveness:
    """How quickly the team answered this person (first responses, from the queue)."""

    answered: int
    waiting: int
    median_minutes: float | None
    average_minutes: float | None
    sla_met: int
    sla_missed: int


@dataclass(frozen=True)
class AuthorProfile:
    """One person across platforms: identities, history, feeling and the team's answers."""

    author: Author
    identities: list[Author]
    links: list[AuthorLink]
    mentions: int
    first_mention_at: datetime | None
    last_mention_at: datetime | None
    platforms: dict[str, int]
    sentiment: list[SentimentWeek]
    responsiveness: Responsiveness
    notes: list[tuple[AuthorNote, str | None]] = field(default_factory=list)
    replies: list[tuple[Response, str | None]] = field(default_factory=list)


def _weeks(rows: list[tuple[datetime, str | None, float | None]]) -> list[SentimentWeek]:
    buckets: dict[date, list[tuple[str | None, float | None]]] = {}
    for created_at, label, score in rows:
        day = created_at.date()
        buckets.setdefault(day - timedelta(days=day.weekday()), []).append((label, score))
    weeks = []
    for week in sorted(buckets):
        labels = Counter(label for label, _ in buckets[week])
        scores = [s for _, s in buckets[week] if s is not None]
        weeks.append(
            SentimentWeek(
                week=week,
                mentions=len(buckets[week]),
                positive=labels["positive"],
                neutral=labels["neutral"],
                negative=labels["negative"],
                average=round(statistics.fmean(scores), 3) if scores else None,
            )
        )
    return weeks


async def author_profile(session: AsyncSession, *, author_id: int) -> AuthorProfile:
    """Everything said by this person (all linked identities), how it felt, how we answered."""
    author = await _author(session, author_id)
    group = sorted((await identities_of(session, author_ids=[author_id]))[author_id])
    identities = list(
        (
            await session.execute(select(Author).where(Author.id.in_(group)).order_by(Author.id))
        ).scalars()
    )
    links = list(
        (
            await session.execute(
                select(AuthorLink).where(AuthorLink.author_id.in_(group)).order_by(AuthorLink.id)
            )
        ).scalars()
    )
    rows = (
        await session.execute(
            select(
                Mention.created_at,
                Mention.platform,
                Mention.sentiment_label,
                Mention.sentiment_score,
                QueueItem.received_at,
                QueueItem.first_response_at,
                QueueItem.sla_outcome,
                QueueItem.status,
            )
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .where(Mention.author_id.in_(group))
            .order_by(Mention.created_at.desc())
            .limit(HISTORY_LIMIT)
        )
    ).all()
    minutes = [
        (r.first_response_at - r.received_at).total_seconds() / 60
        for r in rows
        if r.first_response_at is not None
    ]
    outcomes = Counter(r.sla_outcome for r in rows)
    notes = (
        await session.execute(
            select(AuthorNote, User.username)
            .outerjoin(User, User.id == AuthorNote.user_id)
            .where(AuthorNote.author_id.in_(group))
            .order_by(AuthorNote.created_at.desc(), AuthorNote.id.desc())
            .limit(50)
        )
    ).all()
    replies = (
        await session.execute(
            select(Response, User.username)
            .join(Mention, Mention.id == Response.mention_id)
            .outerjoin(User, User.id == Response.actor_user_id)
            .where(Mention.author_id.in_(group))
            .order_by(Response.responded_at.desc(), Response.id.desc())
            .limit(50)
        )
    ).all()
    return AuthorProfile(
        author=author,
        identities=identities,
        links=links,
        mentions=len(rows),
        first_mention_at=rows[-1].created_at if rows else None,
        last_mention_at=rows[0].created_at if rows else None,
        platforms=dict(Counter(r.platform for r in rows)),
        sentiment=_weeks([(r.created_at, r.sentiment_label, r.sentiment_score) for r in rows]),
        responsiveness=Responsiveness(
            answered=len(minutes),
            waiting=sum(
                1 for r in rows if r.first_response_at is None and r.status in _WAITING_STATUSES
            ),
            median_minutes=round(statistics.median(minutes), 1) if minutes else None,
            average_minutes=round(statistics.fmean(minutes), 1) if minutes else None,
            sla_met=outcomes["met"],
            sla_missed=outcomes["missed"],
        ),
        notes=[(n, username) for n, username in notes],
        replies=[(r, username) for r, username in replies],
    )


_WAITING_STATUSES = frozenset({"new", "open", "escalated", "snoozed"})

"""Earlier answers: the answered mentions most like a new one, with what we said and what then.

A mention is compared with the mentions answered before it: by a reply of ours through the
outbox, by an answer recorded as given elsewhere, or by a post of one of our own accounts under
it. Similarity is the cosine of their term sets weighted by inverse document frequency; terms are
folded and stemmed in each mention's own language (so "afgeschreven" meets "afschrijving"), and
a candidate in the same language as the mention gets a small bonus over one in another. What
happened next is the earlier mention's queue status now and its author's next words in the
thread after our answer.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from listener.models import Author, Mention, OutboxMessage, OutboxStatus, QueueItem, Response
from moderation.incidents.detect import term_forms
from moderation.queue.errors import NotFound

#: Answered mentions compared per request (the most recent before the mention).
MAX_CANDIDATES = 2000
#: Below this similarity an earlier mention is not offered.
MIN_SIMILARITY = 0.2
SAME_LANGUAGE_BONUS = 0.05


@dataclass(frozen=True)
class Answer:
    """What we said: through the outbox, recorded as given elsewhere, or posted as ourselves."""

    kind: str
    text: str | None
    url: str | None
    at: datetime | None
    #: The answer's own id on the platform, which replies to it point at.
    external_id: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """Something the earlier author wrote after our answer, in the same thread."""

    mention_id: int
    text: str
    created_at: datetime


@dataclass
class EarlierAnswer:
    """An earlier answered mention like this one, our answer, and what happened next."""

    mention_id: int
    similarity: float
    text: str
    language: str | None
    created_at: datetime
    url: str | None
    status: str | None
    answers: list[Answer] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    shared_terms: list[str] = field(default_factory=list)


def _primary(language: str | None) -> str | None:
    return (language or "").split("-", 1)[0].lower() or None


async def _answered_before(session: AsyncSession, mention: Mention) -> list[Mention]:
    parent, ours = aliased(Mention), aliased(Mention)
    by_us = (
        select(parent.id)
        .join(
            ours,
            (ours.platform == parent.platform) & (ours.reply_to_external_id == parent.external_id),
        )
        .join(Author, Author.id == ours.author_id)
        .where(Author.own_account_id.is_not(None))
    )
    recorded = select(Response.mention_id)
    ids = union(by_us, recorded).subquery()
    rows = await session.execute(
        select(Mention)
        .where(
            Mention.id.in_(select(ids.c[0])),
            Mention.id != mention.id,
            Mention.created_at < mention.created_at,
            Mention.text != "",
        )
        .order_by(Mention.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    return list(rows.scalars())


async def earlier_answers(
    session: AsyncSession, *, mention_id: int, limit: int = 3
) -> list[EarlierAnswer]:
    """Up to `limit` earlier answered mentions most like this one, most alike first."""
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    candidates = await _answered_before(session, mention)
    own_terms = term_forms(mention.text, mention.language)
    if not candidates or not own_terms:
        return []
    terms = {c.id: term_forms(c.text, c.language) for c in candidates}
    frequency: Counter[str] = Counter()
    for found in terms.values():
        frequency.update(found.keys())
    total = len(candidates) + 1

    def weight(key: str) -> float:
        return math.log((total + 1) / (frequency[key] + 1)) + 1.0

    own_norm = math.sqrt(sum(weight(k) ** 2 for k in own_terms))
    language = _primary(mention.language)
    scored: list[tuple[float, Mention, list[str]]] = []
    for candidate in candidates:
        theirs = terms[candidate.id]
        shared = [k for k in own_terms if k in theirs]
        if not shared:
            continue
        norm = math.sqrt(sum(weight(k) ** 2 for k in theirs))
        score = sum(weight(k) ** 2 for k in shared) / (own_norm * norm)
        if language is not None and _primary(candidate.language) == language:
            score += SAME_LANGUAGE_BONUS
        if score >= MIN_SIMILARITY:
            scored.append((score, candidate, [own_terms[k] for k in shared]))
    scored.sort(key=lambda item: (-item[0], -item[1].id))
    found_answers: list[EarlierAnswer] = []
    for score, candidate, shared in scored[:limit]:
        status = (
            await session.execute(
                select(QueueItem.status).where(QueueItem.mention_id == candidate.id)
            )
        ).scalar_one_or_none()
        answers = await _answers(session, candidate)
        found_answers.append(
            EarlierAnswer(
                mention_id=candidate.id,
                similarity=round(min(score, 1.0), 3),
                text=candidate.text,
                language=candidate.language,
                created_at=candidate.created_at,
                url=candidate.url,
                status=status,
                answers=answers,
                follow_ups=await _follow_ups(session, candidate, answers),
                shared_terms=sorted(shared),
            )
        )
    return found_answers


async def _answers(session: AsyncSession, mention: Mention) -> list[Answer]:
    found: list[Answer] = []
    rows = await session.execute(
        select(Response, OutboxMessage)
        .outerjoin(OutboxMessage, OutboxMessage.id == Response.outbox_id)
        .where(Response.mention_id == mention.id)
        .order_by(Response.responded_at)
    )
    for response, sent in rows.all():
        if sent is not None and sent.status == OutboxStatus.SENT.value:
            found.append(
                Answer("reply", sent.body, sent.url or response.url, response.responded_at)
            )
        else:
            found.append(Answer(response.kind, response.note, response.url, response.responded_at))
    ours = await session.execute(
        select(Mention)
        .join(Author, Author.id == Mention.author_id)
        .where(
            Author.own_account_id.is_not(None),
            Mention.platform == mention.platform,
            Mention.reply_to_external_id == mention.external_id,
        )
        .order_by(Mention.created_at)
        .limit(5)
    )
    known = {a.url for a in found if a.url}
    for reply in ours.scalars():
        if reply.url and reply.url in known:
            continue
        found.append(Answer("own_post", reply.text, reply.url, reply.created_at, reply.external_id))
    return found


async def _follow_ups(
    session: AsyncSession, mention: Mention, answers: list[Answer]
) -> list[FollowUp]:
    answered_at = min((a.at for a in answers if a.at is not None), default=None)
    if mention.author_id is None or answered_at is None:
        return []
    thread = mention.thread_external_id or mention.external_id
    answered_ids = [a.external_id for a in answers if a.external_id] + [mention.external_id]
    rows = await session.execute(
        select(Mention)
        .where(
            Mention.author_id == mention.author_id,
            Mention.platform == mention.platform,
            Mention.id != mention.id,
            Mention.created_at > answered_at,
            (Mention.thread_external_id == thread) | Mention.reply_to_external_id.in_(answered_ids),
        )
        .order_by(Mention.created_at)
        .limit(3)
    )
    return [FollowUp(m.id, m.text, m.created_at) for m in rows.scalars()]

"""Share of voice, counted: how much of the conversation each subject (our brand, competitors,
product lines) holds in each of a run of time buckets, with its sentiment and reach.

The one implementation behind the share-of-voice API and CLI (moderation.queue.voice, UTC days
or weeks) and the digest's section (local days of the digest's period). It lives here, below
both, because the digest may not import moderation (see [tool.importlinter] in pyproject.toml).

Each subject is a query (listener.query). A mention that matches two subjects counts for both,
as share-of-voice tools count it. Per bucket and subject: `mentions`; `positive`, `neutral`,
`negative` and `net_sentiment` ((positive - negative) / labelled, None with none labelled);
`reach`, the followers of the distinct authors (unknown counts as 0); `share`, the subject's
mentions over all subjects' mentions in that bucket (`reach_share` likewise for reach).
Mentions deleted at their source are always left out; the caller adds its own conditions
(our own accounts' posts, a digest's filter).

Everything is counted in one grouped read: the subjects' matches side by side (UNION ALL), each
placed in its bucket by a comparison with the bucket bounds, grouped by subject, bucket, label
and author. Python folds the grouped rows; the same rows come back from SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.functions import count

from listener.digest.document import ShareOfVoiceSection, SubjectVoice
from listener.digest.periods import Period
from listener.digest.query import MentionFilter, change, share
from listener.models import Author, Mention, VoiceSubject
from listener.query import parse, where_clause

_KIND_ORDER = {"brand": 0, "competitor": 1, "product": 2}


@dataclass
class Voice:
    """One subject's numbers in one bucket (or over the whole range)."""

    name: str
    mentions: int = 0
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    reach: int = 0
    share: float = 0.0
    reach_share: float = 0.0
    authors: dict[int, int] = field(default_factory=dict, repr=False)

    @property
    def net_sentiment(self) -> float | None:
        """(positive - negative) / labelled mentions; None when none is labelled."""
        labelled = self.positive + self.neutral + self.negative
        return None if labelled == 0 else round((self.positive - self.negative) / labelled, 4)

    def add(self, label: str | None, author_id: int | None, followers: int | None, n: int) -> None:
        """Count `n` mentions with one sentiment label by one author."""
        self.mentions += n
        if label == "positive":
            self.positive += n
        elif label == "neutral":
            self.neutral += n
        elif label == "negative":
            self.negative += n
        if author_id is not None:
            self.authors[author_id] = followers or 0


@dataclass(frozen=True)
class Counted:
    """Each subject's numbers per bucket (in the order of the bounds) and over all of them."""

    buckets: list[list[Voice]]
    totals: list[Voice]


async def list_subjects(session: AsyncSession) -> list[VoiceSubject]:
    """Every subject: brand first, then competitors, then product lines, by name."""
    rows = await session.execute(select(VoiceSubject))
    return sorted(rows.scalars(), key=lambda s: (_KIND_ORDER.get(s.kind, 3), s.name.lower(), s.id))


def _bucket(column: Any, bounds: Sequence[datetime], low: int, high: int) -> ColumnElement[Any]:
    """The index i in [low, high) with bounds[i] <= column < bounds[i + 1], as a balanced tree
    of comparisons (a year of days is nine comparisons a row, not 365)."""
    if high - low == 1:
        return literal_column(str(low))
    middle = (low + high) // 2
    return case(
        (column < bounds[middle], _bucket(column, bounds, low, middle)),
        else_=_bucket(column, bounds, middle, high),
    )


def _fold_shares(voices: list[Voice]) -> None:
    for voice in voices:
        voice.reach = sum(voice.authors.values())
    mentions = sum(v.mentions for v in voices)
    reach = sum(v.reach for v in voices)
    for voice in voices:
        voice.share = round(voice.mentions / mentions, 4) if mentions else 0.0
        voice.reach_share = round(voice.reach / reach, 4) if reach else 0.0


async def count_voices(
    session: AsyncSession,
    subjects: Sequence[VoiceSubject],
    bounds: Sequence[datetime],
    *,
    conditions: Sequence[ColumnElement[bool]] = (),
) -> Counted:
    """Each subject's volume, sentiment, reach and share in each bucket [bounds[i], bounds[i+1])
    and over [bounds[0], bounds[-1]); mentions must also meet `conditions`."""
    if len(bounds) < 2:
        raise ValueError("count_voices needs at least two bounds")
    buckets = [[Voice(s.name) for s in subjects] for _ in bounds[1:]]
    totals = [Voice(s.name) for s in subjects]
    if subjects:
        dialect = session.get_bind().dialect.name
        arms = [
            select(
                literal_column(str(index), Integer).label("s"),
                Mention.created_at.label("at"),
                Mention.sentiment_label.label("label"),
                Mention.author_id.label("author_id"),
            ).where(
                where_clause(
                    parse(subject.query, field=f"subject {subject.name}"), dialect=dialect
                ),
                Mention.created_at >= bounds[0],
                Mention.created_at < bounds[-1],
                Mention.deleted_at_source.is_(None),
                *conditions,
            )
            for index, subject in enumerate(subjects)
        ]
        matched = (union_all(*arms) if len(arms) > 1 else arms[0]).subquery("matched")
        placed = select(
            matched.c.s,
            _bucket(matched.c.at, bounds, 0, len(bounds) - 1).label("b"),
            matched.c.label,
            matched.c.author_id,
        ).subquery("placed")
        rows = await session.execute(
            select(
                placed.c.s,
                placed.c.b,
                placed.c.label,
                placed.c.author_id,
                Author.followers,
                count(),
            )
            .outerjoin(Author, Author.id == placed.c.author_id)
            .group_by(placed.c.s, placed.c.b, placed.c.label, placed.c.author_id, Author.followers)
        )
        for s, b, label, author_id, followers, n in rows:
            buckets[int(b)][int(s)].add(label, author_id, followers, int(n))
            totals[int(s)].add(label, author_id, followers, int(n))
    for voices in buckets:
        _fold_shares(voices)
    _fold_shares(totals)
    return Counted(buckets, totals)


# -- the digest's section ---------------------------------------------------------------------


def _points(current: float | None, previous: float | None) -> float | None:
    return round(current - previous, 4) if current is not None and previous is not None else None


async def voice_section(
    session: AsyncSession, *, period: Period, filt: MentionFilter
) -> ShareOfVoiceSection | None:
    """Each subject in the digest's period against the previous one; None without subjects.

    The period's local days bound the count, and the digest's filter applies as to every
    other section (our own accounts' posts are left out by it).
    """
    subjects = await list_subjects(session)
    if not subjects:
        return None
    previous = period.shifted(-1)
    counted = await count_voices(
        session, subjects, [previous.start, period.start, period.end], conditions=filt.conditions()
    )
    before, now = counted.buckets
    mentions, earlier = sum(v.mentions for v in now), sum(v.mentions for v in before)
    reach = sum(v.reach for v in now)
    rows = []
    for subject, voice, then in zip(subjects, now, before, strict=True):
        current_share, previous_share = (
            share(voice.mentions, mentions),
            share(then.mentions, earlier),
        )
        rows.append(
            SubjectVoice(
                name=subject.name,
                kind=subject.kind,
                mentions=voice.mentions,
                share=current_share,
                positive=voice.positive,
                neutral=voice.neutral,
                negative=voice.negative,
                net_sentiment=voice.net_sentiment,
                reach=voice.reach,
                reach_share=share(voice.reach, reach),
                previous=then.mentions,
                previous_share=previous_share,
                change=change(voice.mentions, then.mentions),
                share_change_points=_points(current_share, previous_share),
            )
        )
    return ShareOfVoiceSection(mentions=mentions, previous=earlier, subjects=rows)

"""Share of voice: how much of the conversation each subject (our brand, competitors, product
lines) holds, per day or week, with its sentiment and reach.

Each subject is a query (listener.query). A mention that matches two subjects counts for both,
as share-of-voice tools count it. Per bucket and subject: `mentions`; `positive`, `neutral`,
`negative` and `net_sentiment` ((positive - negative) / labelled, None with none labelled);
`reach`, the followers of the distinct authors (unknown counts as 0); `share`, the subject's
mentions over all subjects' mentions in that bucket (`reach_share` likewise for reach). Days
and weeks (Monday to Sunday) are UTC; mentions by our own accounts and mentions deleted at
their source are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.errors import LuisterError
from listener.models import Author, Mention, VoiceSubject, utcnow
from listener.own_accounts import not_by_us
from listener.query import QuerySyntaxError, parse, where_clause
from moderation.queue._sql import dialect_of
from moderation.queue.errors import Conflict, InvalidRequest, NotFound

Period = Literal["day", "week"]
MAX_SUBJECTS = 20
MAX_DAYS = 400
DEFAULT_DAYS = 28


class InvalidSubject(LuisterError):
    """A subject that cannot be saved; the detail names the field."""

    status = 422
    type_slug = "invalid-subject"
    title = "Invalid subject"


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

    def add(self, sentiment: str | None, author_id: int | None, followers: int | None) -> None:
        """Count one mention."""
        self.mentions += 1
        if sentiment == "positive":
            self.positive += 1
        elif sentiment == "neutral":
            self.neutral += 1
        elif sentiment == "negative":
            self.negative += 1
        if author_id is not None:
            self.authors[author_id] = followers or 0


@dataclass(frozen=True)
class Bucket:
    """One day or week: its first day and each subject's numbers."""

    start: date
    subjects: list[Voice]


@dataclass(frozen=True)
class ShareOfVoice:
    """The comparison over a range: totals per subject and the same per bucket."""

    period: Period
    since: datetime
    until: datetime
    subjects: list[VoiceSubject]
    totals: list[Voice]
    buckets: list[Bucket]


def _bucket_start(moment: datetime, period: Period) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday()) if period == "week" else day


def _buckets(since: datetime, until: datetime, period: Period) -> list[date]:
    step = timedelta(days=7 if period == "week" else 1)
    first = _bucket_start(since, period)
    last = _bucket_start(until - timedelta(microseconds=1), period)
    found = []
    while first <= last:
        found.append(first)
        first += step
    return found


def _shares(voices: list[Voice]) -> None:
    for voice in voices:
        voice.reach = sum(voice.authors.values())
    mentions = sum(v.mentions for v in voices)
    reach = sum(v.reach for v in voices)
    for voice in voices:
        voice.share = round(voice.mentions / mentions, 4) if mentions else 0.0
        voice.reach_share = round(voice.reach / reach, 4) if reach else 0.0


def default_range(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last DEFAULT_DAYS whole days and today (UTC)."""
    today = (now or utcnow()).astimezone(UTC).date()
    until = datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)
    return until - timedelta(days=DEFAULT_DAYS + 1), until


async def share_of_voice(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    period: Period = "week",
    names: list[str] | None = None,
) -> ShareOfVoice:
    """Each stored subject's (or the named ones') volume, sentiment, reach and share."""
    start, end = default_range()
    since, until = since or start, until or end
    if since >= until:
        raise InvalidRequest("since: must be before until")
    if until - since > timedelta(days=MAX_DAYS):
        raise InvalidRequest(f"since: a range covers at most {MAX_DAYS} days")
    subjects = await list_subjects(session)
    if names:
        known = {s.name: s for s in subjects}
        missing = [n for n in names if n not in known]
        if missing:
            raise NotFound(f"subject: no subject called {missing[0]!r}")
        subjects = [known[n] for n in dict.fromkeys(names)]
    starts = _buckets(since, until, period)
    per_bucket = {day: [Voice(s.name) for s in subjects] for day in starts}
    totals = [Voice(s.name) for s in subjects]
    dialect = dialect_of(session)
    for index, subject in enumerate(subjects):
        rows = await session.execute(
            select(Mention.created_at, Mention.sentiment_label, Mention.author_id, Author.followers)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(
                where_clause(
                    parse(subject.query, field=f"subject {subject.name}"), dialect=dialect
                ),
                Mention.created_at >= since,
                Mention.created_at < until,
                Mention.deleted_at_source.is_(None),
                not_by_us(),
            )
        )
        for created_at, sentiment, author_id, followers in rows:
            per_bucket[_bucket_start(created_at, period)][index].add(
                sentiment, author_id, followers
            )
            totals[index].add(sentiment, author_id, followers)
    buckets = [Bucket(day, voices) for day, voices in per_bucket.items()]
    for bucket in buckets:
        _shares(bucket.subjects)
    _shares(totals)
    return ShareOfVoice(period, since, until, subjects, totals, buckets)


# -- the subjects ---------------------------------------------------------------------------


def _checked_query(query: str) -> str:
    try:
        parse(query, field="query")
    except QuerySyntaxError as exc:
        raise InvalidSubject(exc.detail, column=exc.column, expected=exc.expected) from None
    return query


async def list_subjects(session: AsyncSession) -> list[VoiceSubject]:
    """Every subject: brand first, then competitors, then product lines, by name."""
    rows = await session.execute(select(VoiceSubject))
    order = {"brand": 0, "competitor": 1, "product": 2}
    return sorted(rows.scalars(), key=lambda s: (order.get(s.kind, 3), s.name.lower(), s.id))


async def get_subject(session: AsyncSession, *, subject_id: int) -> VoiceSubject:
    """One subject."""
    subject = await session.get(VoiceSubject, subject_id)
    if subject is None:
        raise NotFound(f"subject {subject_id} does not exist")
    return subject


async def _flush(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"name: a subject called {name!r} exists already") from exc


async def create_subject(
    session: AsyncSession, *, name: str, query: str, kind: str
) -> VoiceSubject:
    """Add a subject to compare."""
    count = (await session.execute(select(func.count()).select_from(VoiceSubject))).scalar_one()
    if count >= MAX_SUBJECTS:
        raise Conflict(f"there are {MAX_SUBJECTS} subjects already; delete one first")
    subject = VoiceSubject(name=name, query=_checked_query(query), kind=kind)
    session.add(subject)
    await _flush(session, name)
    return subject


async def update_subject(
    session: AsyncSession,
    *,
    subject_id: int,
    name: str | None = None,
    query: str | None = None,
    kind: str | None = None,
) -> VoiceSubject:
    """Rename a subject, change its query or its kind."""
    subject = await get_subject(session, subject_id=subject_id)
    if name is not None:
        subject.name = name
    if query is not None:
        subject.query = _checked_query(query)
    if kind is not None:
        subject.kind = kind
    await _flush(session, subject.name)
    return subject


async def delete_subject(session: AsyncSession, *, subject_id: int) -> None:
    """Forget a subject."""
    subject = await get_subject(session, subject_id=subject_id)
    await session.delete(subject)
    await session.flush()

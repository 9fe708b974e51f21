"""Share of voice: how much of the conversation each subject (our brand, competitors, product
lines) holds, per day or week, with its sentiment and reach.

The counting is `listener.digest.voice` (the weekly digest's section counts the same way);
this module picks the range and buckets and edits the subjects. Each subject is a query
(listener.query); a mention matching two subjects counts for both. Days and weeks (Monday to
Sunday) are UTC; mentions by our own accounts and mentions deleted at their source are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.voice import Voice, count_voices, list_subjects
from listener.errors import LuisterError
from listener.models import VoiceSubject, utcnow
from listener.own_accounts import not_by_us
from listener.query import QuerySyntaxError, parse
from moderation.queue.errors import Conflict, InvalidRequest, NotFound

Period = Literal["day", "week"]
__all__ = [
    "Bucket",
    "InvalidSubject",
    "ShareOfVoice",
    "Voice",
    "create_subject",
    "delete_subject",
    "get_subject",
    "list_subjects",
    "share_of_voice",
    "update_subject",
]

MAX_SUBJECTS = 20
MAX_DAYS = 400
DEFAULT_DAYS = 28


class InvalidSubject(LuisterError):
    """A subject that cannot be saved; the detail names the field."""

    status = 422
    type_slug = "invalid-subject"
    title = "Invalid subject"


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
    step = timedelta(days=7 if period == "week" else 1)
    # The first and last buckets are cut to the range asked for.
    bounds = [since, *(datetime.combine(d + step, time(), tzinfo=UTC) for d in starts[:-1]), until]
    counted = await count_voices(session, subjects, bounds, conditions=[not_by_us()])
    buckets = [Bucket(day, voices) for day, voices in zip(starts, counted.buckets, strict=True)]
    totals = counted.totals
    return ShareOfVoice(period, since, until, subjects, totals, buckets)


# -- the subjects ---------------------------------------------------------------------------


def _checked_query(query: str) -> str:
    try:
        parse(query, field="query")
    except QuerySyntaxError as exc:
        raise InvalidSubject(exc.detail, column=exc.column, expected=exc.expected) from None
    return query


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

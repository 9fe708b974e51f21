"""The weekly schedule: which week is due, and building and queueing one digest per list.

Keyed by (list, week) in the digests table, so running it every minute, from several workers
or after a restart, builds and sends each list's weekly digest once.

Late data: a stored weekly digest whose week received mentions after it was built (an import,
a backfill, a poll after downtime; `fetched_at` later than `built_at`) is rebuilt in place and
marked revised, with how many of its mentions arrived after the first build. Its emails are
not sent again (one delivery per digest and address). The look runs at most every
`REVISE_EVERY` and covers digests of the last `REVISE_WEEKS` weeks.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import service
from listener.digest.builder import build_digest
from listener.digest.periods import Period, PeriodError, zone
from listener.digest.query import within
from listener.models import Checkpoint, Digest, Mention, RecipientList, utcnow
from listener.settings import Settings

log = logging.getLogger(__name__)

# A digest more than a day late is stale: after an outage, wait for next week's instead.
CATCH_UP = timedelta(hours=24)
# How far back stored digests are revised for late data, and how often the job looks.
REVISE_WEEKS = 8
REVISE_EVERY = timedelta(hours=1)
REVISE_CHECKPOINT = "digests.late"


def due_week(now: datetime, *, settings: Settings) -> Period | None:
    """The week whose digest should go out now, if the send time passed less than a day ago."""
    tz = zone(settings.digest_timezone)
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    send_day = monday + timedelta(days=settings.digest_weekday)
    send_at = datetime.combine(send_day, time(settings.digest_hour), tzinfo=tz)
    if local < send_at:
        monday -= timedelta(days=7)
        send_at = datetime.combine(
            send_day - timedelta(days=7), time(settings.digest_hour), tzinfo=tz
        )
    if now - send_at > CATCH_UP:
        return None
    # The digest covers the last full ISO week before the send time.
    first = monday - timedelta(days=7)
    return Period(first, first + timedelta(days=6), settings.digest_timezone, is_week=True)


async def _claim_key(session: AsyncSession, digest: dict[str, object]) -> int | None:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Digest).values(**digest).on_conflict_do_nothing(index_elements=["key"])
    return (await session.execute(stmt.returning(Digest.id))).scalar_one_or_none()


async def run_weekly_schedule(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> list[int]:
    """Build and queue the due week's digest for every enabled list that has none yet."""
    now = now or utcnow()
    week = due_week(now, settings=settings) if settings.digest_schedule_enabled else None
    if week is None:
        return []
    async with sessions() as session:
        lists = list(
            (await session.execute(select(RecipientList).where(RecipientList.enabled))).scalars()
        )
        keys = {
            rl.id: service.digest_key(
                period=week, list_id=rl.id, language=rl.language, filt=service.list_filter(rl)
            )
            for rl in lists
        }
        done = set(
            (
                await session.execute(select(Digest.key).where(Digest.key.in_(keys.values())))
            ).scalars()
        )
    built: list[int] = []
    for rl in lists:
        if keys[rl.id] in done:
            continue
        # Build outside the write transaction: SQLite allows one writer, and building only reads.
        async with sessions() as session:
            data = await build_digest(
                session,
                period=week,
                filt=service.list_filter(rl),
                language=rl.language,  # type: ignore[arg-type]
                target_hours=settings.digest_response_target_hours,
                now=now,
            )
        async with sessions() as session, session.begin():
            digest_id = await _claim_key(
                session,
                {
                    "key": keys[rl.id],
                    "recipient_list_id": rl.id,
                    "period_label": week.label,
                    "period_start": week.start,
                    "period_end": week.end,
                    "timezone": week.timezone,
                    "language": rl.language,
                    "filters": service.list_filter(rl).as_dict(),
                    "data": {},
                    "mention_count": 0,
                    "quiet": False,
                    "created_at": now,
                    "built_at": now,
                },
            )
            if digest_id is None:
                continue  # another worker got there first
            current = await service.get_list(session, list_id=rl.id)
            digest = await service.store_digest(
                session, period=week, settings=settings, recipient_list=current, data=data, now=now
            )
            queued = await service.queue_digest(
                session, digest=digest, recipient_list=current, settings=settings
            )
            log.info("weekly digest %s for list %s: %s emails queued", week.label, rl.name, queued)
            built.append(digest.id)
    return built


async def _late_counts(session: AsyncSession, digest: Digest) -> tuple[int, int]:
    """Mentions of the digest's period and filter fetched after its last build, and after its
    first build."""
    where = within(digest.period_start, digest.period_end, service.stored_filter(digest))
    stmt = select(
        func.count().filter(Mention.fetched_at > digest.built_at),
        func.count(),
    ).where(*where, Mention.fetched_at > digest.created_at)
    since_built, since_first = (await session.execute(stmt)).one()
    return int(since_built), int(since_first)


async def revise_late_digests(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> list[int]:
    """Rebuild the stored weekly digests (of the last REVISE_WEEKS weeks, first built after
    their week ended) whose week received mentions after they were built; mark them revised.

    Idempotent: a revised digest's `built_at` is the revision time, so running again finds
    nothing new until more late mentions arrive.
    """
    now = now or utcnow()
    async with sessions() as session:
        late = exists().where(
            Mention.created_at >= Digest.period_start,
            Mention.created_at < Digest.period_end,
            Mention.fetched_at > Digest.built_at,
        )
        candidates = list(
            (
                await session.execute(
                    select(Digest)
                    .where(
                        Digest.period_end > now - timedelta(weeks=REVISE_WEEKS),
                        Digest.created_at >= Digest.period_end,
                        late,
                    )
                    .order_by(Digest.id)
                )
            ).scalars()
        )
    revised: list[int] = []
    for candidate in candidates:
        try:
            period = Period.week(candidate.period_label, candidate.timezone)
        except PeriodError:
            continue  # a date range, not a week
        async with sessions() as session, session.begin():
            digest = await session.get(Digest, candidate.id, with_for_update=True)
            if digest is None:
                continue
            since_built, since_first = await _late_counts(session, digest)
            if since_built == 0:
                continue  # the late mentions are outside this digest's filter (or by us)
            await service.revise_digest(
                session,
                digest=digest,
                period=period,
                settings=settings,
                late_mentions=since_first,
                now=now,
            )
            log.info(
                "digest %s (%s) revised: %s mentions arrived after it was first built",
                digest.id,
                digest.period_label,
                since_first,
            )
            revised.append(digest.id)
    return revised


async def revise_if_due(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> list[int]:
    """`revise_late_digests`, at most once per REVISE_EVERY (the minute's job calls this)."""
    now = now or utcnow()
    try:
        async with sessions() as session, session.begin():
            mark = await session.get(Checkpoint, REVISE_CHECKPOINT, with_for_update=True)
            if mark is not None and timedelta(0) <= now - mark.at < REVISE_EVERY:
                return []
            if mark is None:
                session.add(Checkpoint(name=REVISE_CHECKPOINT, at=now))
            else:
                mark.at = now
    except IntegrityError:
        return []  # another worker took this turn
    return await revise_late_digests(sessions, settings=settings, now=now)

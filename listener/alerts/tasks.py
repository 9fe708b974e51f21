"""The hourly spike check, run by arq cron in workers and by the embedded runner.

Idempotent: an alert per (metric, group, hour) plus the cooldown, a delivery per (alert,
address). Running it twice, late, or on two workers at once changes nothing the first did not.

Late data: besides the hour that just ended, the check looks again at every hour whose
mentions arrived (`fetched_at`) since its last run, up to `alert_catch_up_days` back, so an
import, a backfill or a poll after downtime raises the alerts those hours deserve. How far it
has looked is a checkpoint row; runs overlap a little, which the idempotence makes harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts.notify import check_spikes
from listener.digest.delivery import deliver_due
from listener.digest.query import dialect_of, epoch_hour
from listener.digest.tasks import hour_floor
from listener.models import Checkpoint, Mention, utcnow
from listener.settings import Settings

CHECKPOINT = "alerts.fetched_at"
# Mentions stored just before a run may commit just after it: look this far behind the mark.
OVERLAP = timedelta(minutes=15)


async def late_hours(
    session: AsyncSession, *, since: datetime | None, until: datetime, oldest: datetime
) -> list[datetime]:
    """Ends of the whole hours before `until` holding mentions fetched after `since`."""
    hour = epoch_hour(Mention.created_at, dialect_of(session))
    stmt = select(hour).where(Mention.created_at >= oldest, Mention.created_at < until).distinct()
    if since is not None:
        stmt = stmt.where(Mention.fetched_at > since)
    hours = (await session.execute(stmt)).scalars()
    return sorted(datetime.fromtimestamp((int(h) + 1) * 3600, UTC) for h in hours)


async def _mark(session: AsyncSession, at: datetime) -> None:
    insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
    stmt = insert(Checkpoint).values(name=CHECKPOINT, at=at)
    await session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"at": at}))


async def alert_tick(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Check the last full hour, and every hour that received data since the last run, for
    spikes (oldest first, so cooldowns apply in order), and email the alerts raised."""
    now = now or utcnow()
    end = hour_floor(now)
    async with sessions() as session:
        mark = await session.get(Checkpoint, CHECKPOINT)
        since = mark.at - OVERLAP if mark is not None else None
        hours = await late_hours(
            session,
            since=since,
            until=end,
            oldest=end - timedelta(days=settings.alert_catch_up_days),
        )
    alerts = []
    for window_end in sorted({*hours, end}):
        alerts += await check_spikes(sessions, settings=settings, window_end=window_end, now=now)
    async with sessions() as session, session.begin():
        await _mark(session, now)
    report = await deliver_due(sessions, settings=settings, now=now)
    return {
        "alerts": [a.id for a in alerts],
        "hours_checked": len({*hours, end}),
        "sent": len(report.sent),
    }


async def alert_cron(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron (hourly): the spike check of the hour that just ended, and of late data."""
    return await alert_tick(ctx["sessions"], settings=ctx["settings"])

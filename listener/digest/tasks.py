"""The digest and alert jobs, run by arq cron in workers and by the in-process runner.

Each is idempotent and keyed by rows: a digest per (list, week), an alert per (metric, group,
hour) plus the cooldown, a delivery per (digest or alert, address). Running one twice, late,
or on two workers at once changes nothing the first run did not.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts import check_spikes
from listener.digest.delivery import deliver_due
from listener.digest.schedule import run_weekly_schedule
from listener.models import utcnow
from listener.settings import Settings

log = logging.getLogger(__name__)


def hour_floor(moment: datetime) -> datetime:
    """The start of the UTC hour `moment` is in (zones with half-hour offsets included)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def digest_tick(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Build and queue the weekly digests that are due, then send every due email."""
    now = now or utcnow()
    built = await run_weekly_schedule(sessions, settings=settings, now=now)
    report = await deliver_due(sessions, settings=settings, now=now)
    return {
        "digests_built": built,
        "sent": len(report.sent),
        "retrying": len(report.retrying),
        "failed": len(report.failed),
    }


async def alert_tick(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Check the last full hour for spikes and email the alerts it raised."""
    now = now or utcnow()
    alerts = await check_spikes(sessions, settings=settings, window_end=hour_floor(now), now=now)
    report = await deliver_due(sessions, settings=settings, now=now)
    return {"alerts": [a.id for a in alerts], "sent": len(report.sent)}


async def digest_cron(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron (every minute): the weekly schedule and email deliveries."""
    return await digest_tick(ctx["sessions"], settings=ctx["settings"])


async def alert_cron(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron (hourly): the spike check of the hour that just ended."""
    return await alert_tick(ctx["sessions"], settings=ctx["settings"])

"""The digest jobs, run by arq cron in workers and by the embedded runner.

Each is idempotent and keyed by rows: a digest per (list, week), an alert per (metric, group,
hour) plus the cooldown, a delivery per (digest or alert, address). Running one twice, late,
or on two workers at once changes nothing the first run did not.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.delivery import deliver_due
from listener.digest.schedule import revise_if_due, run_weekly_schedule
from listener.models import utcnow
from listener.settings import Settings

log = logging.getLogger(__name__)


def hour_floor(moment: datetime) -> datetime:
    """The start of the UTC hour `moment` is in (zones with half-hour offsets included)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def digest_tick(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Build and queue the weekly digests that are due, revise stored ones that received late
    mentions (hourly), then send every due email."""
    now = now or utcnow()
    built = await run_weekly_schedule(sessions, settings=settings, now=now)
    revised = await revise_if_due(sessions, settings=settings, now=now)
    report = await deliver_due(sessions, settings=settings, now=now)
    return {
        "digests_built": built,
        "digests_revised": revised,
        "sent": len(report.sent),
        "retrying": len(report.retrying),
        "failed": len(report.failed),
    }


async def digest_cron(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron (every minute): the weekly schedule, late-data revisions and email deliveries."""
    return await digest_tick(ctx["sessions"], settings=ctx["settings"])

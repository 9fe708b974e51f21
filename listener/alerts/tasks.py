"""The hourly spike check, run by arq cron in workers and by the embedded runner.

Idempotent: an alert per (metric, group, hour) plus the cooldown, a delivery per (alert,
address). Running it twice, late, or on two workers at once changes nothing the first did not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts.notify import check_spikes
from listener.digest.delivery import deliver_due
from listener.digest.tasks import hour_floor
from listener.models import utcnow
from listener.settings import Settings


async def alert_tick(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> dict[str, Any]:
    """Check the last full hour for spikes and email the alerts it raised."""
    now = now or utcnow()
    alerts = await check_spikes(sessions, settings=settings, window_end=hour_floor(now), now=now)
    report = await deliver_due(sessions, settings=settings, now=now)
    return {"alerts": [a.id for a in alerts], "sent": len(report.sent)}


async def alert_cron(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron (hourly): the spike check of the hour that just ended."""
    return await alert_tick(ctx["sessions"], settings=ctx["settings"])

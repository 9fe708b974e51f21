"""Webhook jobs: one set of functions for arq workers and the in-process runner.

Declared once in `api.wiring.JOBS`. The database holds all delivery state (cursor, retries,
lease), so a lost or doubled job run loses nothing and sends nothing twice but what a killed
run had not confirmed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from listener.events import purge_events
from listener.models import utcnow
from listener.webhooks.delivery import deliver_due
from listener.webhooks.service import purge_deliveries


async def deliver_webhooks(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron (every 5 s): deliver what is due to every subscription, in order."""
    return await deliver_due(ctx["sessions"], settings=ctx["settings"], client=ctx["client"])


async def purge_events_job(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron (hourly): drop events and delivery-log rows older than the retention setting."""
    before = utcnow() - timedelta(days=ctx["settings"].event_retention_days)
    async with ctx["sessions"]() as session, session.begin():
        events = await purge_events(session, before=before)
        deliveries = await purge_deliveries(session, before=before)
    return {"events": events, "deliveries": deliveries}

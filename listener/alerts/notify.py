"""Raise alerts for spikes (once per cooldown), tell integrations, and queue the emails."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts.detect import Rule, Spike, detect_spikes
from listener.alerts.drivers import spike_drivers
from listener.digest import audit
from listener.digest.delivery import queue_deliveries
from listener.events import ALERT_RAISED, record_event
from listener.models import Alert, RecipientList, utcnow
from listener.settings import Settings

EVENT_TYPE = ALERT_RAISED


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The alert as integrations and the API see it."""
    return {
        "id": alert.id,
        "metric": alert.metric,
        "dimension": alert.dimension,
        "key": alert.dimension_key,
        "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(),
        "observed": alert.observed,
        "baseline": alert.baseline,
        "z_score": alert.z_score,
        "count": alert.count,
        "drivers": alert.drivers,
    }


async def _in_cooldown(session: AsyncSession, spike: Spike, rule: Rule) -> bool:
    since = spike.window_end - timedelta(hours=rule.cooldown_hours)
    stmt = select(Alert.id).where(
        Alert.metric == spike.metric,
        Alert.dimension == spike.dimension,
        Alert.dimension_key == spike.key,
        Alert.window_end > since,
        Alert.window_end <= spike.window_end,
    )
    return (await session.execute(stmt.limit(1))).first() is not None


def _follows(rl: RecipientList, alert: Alert) -> bool:
    if alert.dimension == "all":  # everything at once: lists that follow everything
        return not rl.topics and not rl.sources
    if alert.dimension == "topic":
        return not rl.topics or alert.dimension_key in rl.topics
    return not rl.sources or alert.dimension_key in rl.sources


async def raise_alert(
    session: AsyncSession, *, spike: Spike, settings: Settings, now: datetime
) -> Alert | None:
    """Store the spike as an alert with its drivers, an event and emails; None if already there."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = asdict(spike)
    values["dimension_key"] = values.pop("key")
    values["drivers"] = await spike_drivers(session, spike=spike)
    values["created_at"] = now
    stmt = (
        insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["metric", "dimension", "dimension_key", "window_start"]
        )
    )
    alert_id = (await session.execute(stmt.returning(Alert.id))).scalar_one_or_none()
    if alert_id is None:
        return None
    alert = await session.get(Alert, alert_id)
    assert alert is not None
    payload = alert_payload(alert)
    await record_event(session, EVENT_TYPE, f"alert:{alert.id}", payload)
    audit.record(
        session,
        entity="alert",
        entity_id=alert.id,
        action="raise",
        after={k: payload[k] for k in ("metric", "dimension", "key", "observed", "baseline")},
    )
    if settings.smtp_host:
        lists = (
            await session.execute(
                select(RecipientList).where(RecipientList.enabled, RecipientList.receive_alerts)
            )
        ).scalars()
        for rl in lists:
            if _follows(rl, alert):
                await queue_deliveries(
                    session,
                    recipients=rl.emails,
                    language=rl.language,
                    recipient_list_id=rl.id,
                    alert_id=alert.id,
                )
    return alert


async def check_spikes(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    window_end: datetime,
    now: datetime | None = None,
) -> list[Alert]:
    """Check the hour before `window_end` (whole hours) and raise the alerts it deserves."""
    window_end = window_end.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    rule = Rule.from_settings(settings)
    now = now or utcnow()
    raised: list[Alert] = []
    async with sessions() as session, session.begin():
        for spike in await detect_spikes(session, window_end=window_end, rule=rule):
            if await _in_cooldown(session, spike, rule):
                continue
            alert = await raise_alert(session, spike=spike, settings=settings, now=now)
            if alert is not None:
                raised.append(alert)
    return raised

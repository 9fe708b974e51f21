"""The weekly schedule builds and sends each list's digest once, however often it runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.worker import shutdown as worker_shutdown
from api.worker import startup as worker_startup
from api.worker import worker_settings
from listener.digest import service
from listener.digest.periods import Period
from listener.digest.schedule import run_weekly_schedule
from listener.digest.tasks import digest_cron
from listener.models import Delivery, Digest
from listener.settings import Settings
from tests.digest.conftest import Inbox
from tests.digest.data import TZ, History

MONDAY_0830 = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 08:30 in Amsterdam


async def _lists(sessions: async_sessionmaker[AsyncSession], *lists: dict[str, Any]) -> None:
    async with sessions() as session, session.begin():
        for values in lists:
            await service.create_list(session, values=values, actor="test")


def _with_smtp(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "digest_timezone": TZ,
        }
    )


async def _count(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_each_list_gets_last_weeks_digest_once_on_monday_morning(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    settings = _with_smtp(settings, port)
    await _lists(
        sessions,
        {"name": "all", "emails": ["team@fietsbaan.example"]},
        {"name": "nl", "emails": ["nl@fietsbaan.example"], "language": "nl", "topics": ["outage"]},
        {"name": "off", "emails": ["off@fietsbaan.example"], "enabled": False},
    )

    before = await run_weekly_schedule(sessions, settings=settings, now=MONDAY_0830.replace(hour=6))
    first = await run_weekly_schedule(sessions, settings=settings, now=MONDAY_0830)
    again = await run_weekly_schedule(sessions, settings=settings, now=MONDAY_0830)

    assert (before, len(first), again) == ([], 2, [])
    async with sessions() as session:
        digests = (await session.execute(select(Digest).order_by(Digest.id))).scalars().all()
    assert [(d.period_label, d.language, d.mention_count) for d in digests] == [
        ("2026-W47", "en", 10),
        ("2026-W47", "nl", 5),
    ]
    assert await _count(sessions, Delivery) == 2

    await digest_cron({"sessions": sessions, "settings": settings})  # the minute's job sends them
    assert sorted(m["To"] for m in inbox.messages) == [
        "nl@fietsbaan.example",
        "team@fietsbaan.example",
    ]


async def test_without_smtp_the_digest_is_stored_and_says_why_it_was_not_sent(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, history: History
) -> None:
    await _lists(sessions, {"name": "all", "emails": ["team@fietsbaan.example"]})
    settings = settings.model_copy(update={"digest_timezone": TZ, "smtp_host": None})
    [digest_id] = await run_weekly_schedule(sessions, settings=settings, now=MONDAY_0830)
    async with sessions() as session:
        digest = await session.get(Digest, digest_id)
    assert digest is not None and "LUISTER_SMTP_HOST" in (digest.skipped_reason or "")
    assert await _count(sessions, Delivery) == 0


@pytest.mark.slow
async def test_the_worker_runs_the_same_job_from_its_cron(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    redis_url: str,
) -> None:
    now = datetime.now(UTC).astimezone(ZoneInfo(TZ))
    due_now = settings.model_copy(
        update={
            "redis_url": SecretStr(redis_url),
            "digest_timezone": TZ,
            "digest_weekday": now.weekday(),
            "digest_hour": now.hour,
        }
    )
    worker = worker_settings(due_now)
    crons = {job.name for job in worker.cron_jobs}
    assert {"cron:digest_cron", "cron:alert_cron"} <= crons
    await _lists(sessions, {"name": "all", "emails": ["team@fietsbaan.example"]})

    ctx: dict[str, Any] = {"settings": due_now}
    await worker_startup(ctx)
    try:
        outcome = await digest_cron(ctx)
    finally:
        await worker_shutdown(ctx)

    async with sessions() as session:
        labels = (await session.execute(select(Digest.period_label))).scalars().all()
    assert len(outcome["digests_built"]) == 1
    assert labels == [Period.last_complete_week(now, TZ).label]

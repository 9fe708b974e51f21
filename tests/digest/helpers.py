"""Helpers of the email tests: settings for the loopback SMTP server, a queued digest."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import service
from listener.digest.periods import Period
from listener.models import Delivery, Digest
from listener.settings import Settings
from tests.digest.data import TZ

TEAM = ["anna@fietsbaan.example", "bram@fietsbaan.example"]


def smtp_settings(settings: Settings, port: int, **changes: Any) -> Settings:
    """`settings` sending plain SMTP to 127.0.0.1:`port`."""
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", **changes}
    )


async def queue_week(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    week: str = "2026-W47",
    emails: list[str] = TEAM,
    **list_values: Any,
) -> Digest:
    """Create list "team" and queue its digest of `week`."""
    async with sessions() as session, session.begin():
        rl = await service.create_list(
            session, values={"name": "team", "emails": emails, **list_values}, actor="test"
        )
        digest = await service.store_digest(
            session, period=Period.week(week, TZ), settings=settings, recipient_list=rl
        )
        await service.queue_digest(session, digest=digest, recipient_list=rl, settings=settings)
    return digest


async def deliveries_by_recipient(
    sessions: async_sessionmaker[AsyncSession],
) -> dict[str, Delivery]:
    """Every delivery row, by address."""
    async with sessions() as session:
        rows = (await session.execute(select(Delivery))).scalars()
        return {d.recipient: d for d in rows}

"""Who is viewing an item: heartbeats that count for a short TTL (Ozone polls every 30 s).

A table rather than Redis keeps it one code path for both deployments and testable on both
databases; rows are tiny and the sweep deletes the stale ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Presence, QueueItem, User, utcnow
from moderation.queue._sql import upsert
from moderation.queue.errors import NotFound


@dataclass(frozen=True)
class Viewer:
    """A staff member who has the item open."""

    user_id: int
    username: str
    display_name: str | None
    seen_at: datetime


async def heartbeat(
    session: AsyncSession, *, mention_id: int, user_id: int, now: datetime | None = None
) -> None:
    """Say `user_id` is looking at the item now."""
    if await session.get(QueueItem, mention_id) is None:
        raise NotFound(f"mention {mention_id} does not exist")
    seen = now or utcnow()
    stmt = upsert(session, Presence).values(mention_id=mention_id, user_id=user_id, seen_at=seen)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["mention_id", "user_id"], set_={"seen_at": stmt.excluded.seen_at}
        )
    )


async def leave(session: AsyncSession, *, mention_id: int, user_id: int) -> None:
    """Say `user_id` closed the item."""
    await session.execute(
        delete(Presence).where(Presence.mention_id == mention_id, Presence.user_id == user_id)
    )


async def viewers(
    session: AsyncSession, *, mention_id: int, ttl_seconds: int, now: datetime | None = None
) -> list[Viewer]:
    """The staff whose heartbeat on the item is younger than the TTL, longest-present first."""
    since = (now or utcnow()) - timedelta(seconds=ttl_seconds)
    rows = await session.execute(
        select(User.id, User.username, User.display_name, Presence.seen_at)
        .join(User, User.id == Presence.user_id)
        .where(Presence.mention_id == mention_id, Presence.seen_at >= since)
        .order_by(User.username)
    )
    return [Viewer(*row) for row in rows]


async def purge_presence(
    session: AsyncSession, *, ttl_seconds: int, now: datetime | None = None
) -> int:
    """Delete heartbeats older than the TTL; returns how many."""
    since = (now or utcnow()) - timedelta(seconds=ttl_seconds)
    result = await session.execute(delete(Presence).where(Presence.seen_at < since))
    return int(getattr(result, "rowcount", 0) or 0)

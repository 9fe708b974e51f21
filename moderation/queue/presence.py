"""Who is viewing an item: heartbeats that count for a short TTL (Ozone polls every 30 s).

A table rather than Redis keeps it one code path for both deployments and testable on both
databases; rows are tiny and the sweep deletes the stale ones.

When who is viewing changes (someone opens an item, or closes it), a `mention.presence` event
goes to the event log, so open pages (the desk's live stream) show it within a second or two.
A heartbeat that only renews a fresh presence writes no event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.events import record_event
from listener.models import Presence, QueueItem, User, utcnow
from moderation.queue._sql import upsert
from moderation.queue.errors import NotFound

#: The event type recorded when the set of viewers of an item changes (not in the webhook list:
#: it is for live screens, and says only which item and who).
MENTION_PRESENCE = "mention.presence"


@dataclass(frozen=True)
class Viewer:
    """A staff member who has the item open."""

    user_id: int
    username: str
    display_name: str | None
    seen_at: datetime


async def _presence_event(
    session: AsyncSession, *, mention_id: int, user_id: int, viewing: bool
) -> None:
    await record_event(
        session,
        MENTION_PRESENCE,
        f"mention:{mention_id}",
        {"mention_id": mention_id, "user_id": user_id, "viewing": viewing},
        mention_id=mention_id,
    )


async def heartbeat(
    session: AsyncSession,
    *,
    mention_id: int,
    user_id: int,
    now: datetime | None = None,
    ttl_seconds: int | None = None,
) -> None:
    """Say `user_id` is looking at the item now.

    A `mention.presence` event is recorded when this makes them a new viewer: no heartbeat
    before, or (given `ttl_seconds`) only one older than the TTL.
    """
    if await session.get(QueueItem, mention_id) is None:
        raise NotFound(f"mention {mention_id} does not exist")
    seen = now or utcnow()
    before = (
        await session.execute(
            select(Presence.seen_at).where(
                Presence.mention_id == mention_id, Presence.user_id == user_id
            )
        )
    ).scalar_one_or_none()
    arrived = before is None or (
        ttl_seconds is not None and before < seen - timedelta(seconds=ttl_seconds)
    )
    stmt = upsert(session, Presence).values(mention_id=mention_id, user_id=user_id, seen_at=seen)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["mention_id", "user_id"], set_={"seen_at": stmt.excluded.seen_at}
        )
    )
    if arrived:
        await _presence_event(session, mention_id=mention_id, user_id=user_id, viewing=True)


async def leave(session: AsyncSession, *, mention_id: int, user_id: int) -> None:
    """Say `user_id` closed the item."""
    result = await session.execute(
        delete(Presence).where(Presence.mention_id == mention_id, Presence.user_id == user_id)
    )
    if getattr(result, "rowcount", 0):
        await _presence_event(session, mention_id=mention_id, user_id=user_id, viewing=False)


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

"""Claims: a lease on an item so two colleagues never answer the same mention by accident.

As in Discourse's reviewable claims, someone else's claim blocks writes (409) unless an admin
forces it; unlike Discourse's, a claim is a lease that expires, so an abandoned claim frees
itself (Ozone's assignments have end times too). Taking a claim is one conditional UPDATE, so of
two simultaneous claimants exactly one wins. A claim does not bump the item's version: it
changes who works on the item, not the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.events import MENTION_UPDATED, record_mention_events
from listener.models import QueueItem, User, utcnow
from moderation.queue import audit
from moderation.queue.workflow import (
    check_force,
    check_version,
    claim_info,
    claim_is_live,
    get_queue_item,
    refuse_if_claimed,
)


@dataclass(frozen=True)
class Claim:
    """Who holds an item and until when (no holder: the item is free)."""

    mention_id: int
    user_id: int | None
    username: str | None
    expires_at: datetime | None


async def current_claim(session: AsyncSession, *, mention_id: int) -> Claim:
    """The live claim on an item, if any."""
    item = await get_queue_item(session, mention_id=mention_id)
    if not claim_is_live(item, utcnow()):
        return Claim(mention_id, None, None, None)
    info = await claim_info(session, item)
    return Claim(mention_id, item.claimed_by, info["username"], item.claim_expires_at)


async def claim_item(
    session: AsyncSession,
    *,
    mention_id: int,
    actor: User,
    actor_label: str,
    minutes: int,
    force: bool = False,
    version: int | None = None,
) -> Claim:
    """Take (or renew) the claim for `minutes`; 409 while someone else's claim is live."""
    check_force(actor, force)
    item = await get_queue_item(session, mention_id=mention_id)
    if version is not None:
        check_version(item, version)
    now = utcnow()
    previous_holder = item.claimed_by if claim_is_live(item, now) else None
    expires = now + timedelta(minutes=minutes)
    conditions = [QueueItem.mention_id == mention_id]
    if not force:
        conditions.append(
            or_(
                QueueItem.claimed_by.is_(None),
                QueueItem.claimed_by == actor.id,
                QueueItem.claim_expires_at <= now,
            )
        )
    taken = await session.execute(
        update(QueueItem)
        .where(*conditions)
        .values(claimed_by=actor.id, claim_expires_at=expires)
        .returning(QueueItem.mention_id)
        .execution_options(synchronize_session=False)
    )
    if taken.scalar_one_or_none() is None:
        # Someone claimed it between our read and our write: report who.
        current = await get_queue_item(session, mention_id=mention_id)
        await refuse_if_claimed(session, current, actor=actor, force=False, now=now)
    if previous_holder == actor.id:
        action = "claim_renew"
    elif previous_holder is not None:
        action = "claim_force"
    else:
        action = "claim"
    audit.record(
        session,
        mention_id=mention_id,
        action=action,
        actor=actor,
        actor_label=actor_label,
        before={"claimed_by": previous_holder},
        after={"claimed_by": actor.id, "claim_expires_at": expires.isoformat()},
    )
    if action != "claim_renew":
        await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["claim"])
    return Claim(mention_id, actor.id, actor.username, expires)


async def release_claim(
    session: AsyncSession, *, mention_id: int, actor: User, actor_label: str, force: bool = False
) -> Claim:
    """Let go of a claim (an admin may release someone else's); releasing a free item is a no-op."""
    check_force(actor, force)
    item = await get_queue_item(session, mention_id=mention_id)
    now = utcnow()
    if item.claimed_by is None:
        return Claim(mention_id, None, None, None)
    forced = await refuse_if_claimed(session, item, actor=actor, force=force, now=now)
    holder = item.claimed_by
    await session.execute(
        update(QueueItem)
        .where(QueueItem.mention_id == mention_id, QueueItem.claimed_by == holder)
        .values(claimed_by=None, claim_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        mention_id=mention_id,
        action="claim_release_forced" if forced else "claim_release",
        actor=actor,
        actor_label=actor_label,
        before={"claimed_by": holder},
        after={"claimed_by": None},
    )
    await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["claim"])
    return Claim(mention_id, None, None, None)

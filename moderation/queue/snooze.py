"""Waking snoozed items: when their time comes, or when their author writes again.

Chatwoot reopens a snoozed conversation on the next reply; here the
"reply" is any new mention by the same person, on any platform their linked identities cover.
Waking is a move SNOOZED → OPEN made by Luister itself: version-checked and audited like a
staff write, so a moderator acting on the old state gets a 409 rather than a silent overwrite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.id_lists import ids_in, ids_not_in
from listener.models import Mention, QueueItem, Status, utcnow
from moderation.queue import audit
from moderation.queue.authors import identities_of
from moderation.queue.workflow import queue_state, transition_changes


async def _wake(
    session: AsyncSession, item: QueueItem, *, reason: str, now: datetime, detail: dict[str, int]
) -> bool:
    before = queue_state(item)
    changes = transition_changes(item, Status.OPEN, now=now, reason=reason)
    woke = await session.execute(
        update(QueueItem)
        .where(
            QueueItem.mention_id == item.mention_id,
            QueueItem.version == item.version,
            QueueItem.status == Status.SNOOZED.value,
        )
        .values(**changes, version=QueueItem.version + 1, updated_at=now)
        .returning(QueueItem.version)
        .execution_options(synchronize_session=False)
    )
    version = woke.scalar_one_or_none()
    if version is None:
        return False  # a moderator moved it first; their state stands
    after = before | {
        "status": Status.OPEN.value,
        "version": version,
        "status_reason": reason,
        "snoozed_until": None,
        "snooze_until_author": False,
    }
    audit.record(
        session,
        mention_id=item.mention_id,
        action="wake",
        actor=None,
        before=before,
        after=after | detail,
    )
    return True


async def wake_due_snoozes(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Reopen snoozed items whose time has come; returns their ids."""
    now = now or utcnow()
    items = (
        await session.execute(
            select(QueueItem)
            .where(QueueItem.status == Status.SNOOZED.value, QueueItem.snoozed_until <= now)
            .order_by(QueueItem.snoozed_until)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
    ).scalars()
    woken = []
    for item in list(items):
        if await _wake(session, item, reason="snooze ended", now=now, detail={}):
            woken.append(item.mention_id)
    return woken


async def wake_for_authors(
    session: AsyncSession, *, new_mention_ids: Sequence[int], now: datetime | None = None
) -> list[int]:
    """Reopen items snoozed 'until the author writes again' whose author just did."""
    if not new_mention_ids:
        return []
    # Most batches find nobody waiting for their author: one small read (the status index
    # holds the few snoozed items) spares the author and identity reads below.
    anyone_waiting = await session.execute(
        select(QueueItem.mention_id)
        .where(QueueItem.status == Status.SNOOZED.value, QueueItem.snooze_until_author.is_(True))
        .limit(1)
    )
    if anyone_waiting.first() is None:
        return []
    now = now or utcnow()
    new_by_author: dict[int, int] = {}
    rows = await session.execute(
        select(Mention.author_id, Mention.id).where(
            ids_in(session, Mention.id, new_mention_ids), Mention.author_id.is_not(None)
        )
    )
    for author_id, mention_id in rows:
        if author_id is not None:
            new_by_author.setdefault(author_id, mention_id)
    if not new_by_author:
        return []
    # The same person may write from another platform: wake on any linked identity.
    person_of = await identities_of(session, author_ids=set(new_by_author))
    written: dict[int, int] = {}
    for author_id, mention_id in new_by_author.items():
        for identity in person_of[author_id]:
            written.setdefault(identity, mention_id)
    waiting = await session.execute(
        select(QueueItem, Mention.author_id)
        .join(Mention, Mention.id == QueueItem.mention_id)
        .where(
            QueueItem.status == Status.SNOOZED.value,
            QueueItem.snooze_until_author.is_(True),
            ids_in(session, Mention.author_id, written),
            ids_not_in(session, QueueItem.mention_id, new_mention_ids),
        )
        .execution_options(populate_existing=True)
    )
    woken = []
    for item, author_id in list(waiting):
        trigger = written[author_id or 0]
        reason = f"author wrote again (mention {trigger})"
        if await _wake(session, item, reason=reason, now=now, detail={"new_mention_id": trigger}):
            woken.append(item.mention_id)
    return woken

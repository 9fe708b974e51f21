"""Free labels on mentions: created on first use, changed with the item's version, audited."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.events import MENTION_UPDATED, record_mention_events
from listener.models import MentionTag, QueueItem, Tag, User, utcnow
from moderation.queue import audit
from moderation.queue._sql import upsert
from moderation.queue.errors import InvalidRequest
from moderation.queue.listing import tags_for
from moderation.queue.workflow import (
    check_force,
    check_version,
    compare_and_swap,
    get_queue_item,
    queue_state,
    refuse_if_claimed,
)

_TAG = re.compile(r"^[a-z0-9][a-z0-9 _:/.+-]{0,49}$")


def normalize_tag(name: str) -> str:
    """Lower case, single spaces; refuses what would not read as a label."""
    tag = " ".join(name.split()).lower()
    if not _TAG.match(tag):
        raise InvalidRequest(
            f"tags: {name!r} is not a tag (1-50 characters: letters, digits, space, _:/.+-)"
        )
    return tag


async def ensure_tags(
    session: AsyncSession, *, names: Iterable[str], created_by: int | None
) -> dict[str, int]:
    """The ids of these tags, creating the missing ones."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    now = utcnow()
    await session.execute(
        upsert(session, Tag)
        .values([{"name": n, "created_by": created_by, "created_at": now} for n in wanted])
        .on_conflict_do_nothing(index_elements=["name"])
    )
    rows = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(wanted)))
    return {name: tag_id for name, tag_id in rows}


async def set_mention_tags(
    session: AsyncSession,
    *,
    mention_id: int,
    tags: Iterable[str],
    current: Iterable[str],
    added_by: int | None,
) -> None:
    """Make the mention's tags exactly `tags` (given that it has `current`)."""
    target, now_has = set(tags), set(current)
    ids = await ensure_tags(session, names=target - now_has, created_by=added_by)
    if ids:
        now = utcnow()
        session.add_all(
            MentionTag(mention_id=mention_id, tag_id=i, added_by=added_by, added_at=now)
            for i in ids.values()
        )
    gone = now_has - target
    if gone:
        await session.execute(
            delete(MentionTag).where(
                MentionTag.mention_id == mention_id,
                MentionTag.tag_id.in_(select(Tag.id).where(Tag.name.in_(gone))),
            )
        )
    await session.flush()


async def change_tags(
    session: AsyncSession,
    *,
    mention_id: int,
    add: Iterable[str],
    remove: Iterable[str],
    version: int,
    actor: User,
    actor_label: str,
    force: bool = False,
) -> tuple[QueueItem, list[str]]:
    """Add and remove tags on a mention if `version` is current; returns the item and its tags."""
    adding = {normalize_tag(t) for t in add}
    removing = {normalize_tag(t) for t in remove}
    if adding & removing:
        raise InvalidRequest(
            f"tags: both added and removed: {', '.join(sorted(adding & removing))}"
        )
    check_force(actor, force)
    item = await get_queue_item(session, mention_id=mention_id)
    check_version(item, version)
    await refuse_if_claimed(session, item, actor=actor, force=force, now=utcnow())
    before_tags = list((await tags_for(session, mention_ids=[mention_id])).get(mention_id, ()))
    after_tags = sorted((set(before_tags) | adding) - removing)
    before = queue_state(item) | {"tags": before_tags}
    updated = await compare_and_swap(
        session, mention_id=mention_id, version=version, changes={}, actor=actor, force=force
    )
    await set_mention_tags(
        session, mention_id=mention_id, tags=after_tags, current=before_tags, added_by=actor.id
    )
    audit.record(
        session,
        mention_id=mention_id,
        action="tags",
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=queue_state(updated) | {"tags": after_tags},
    )
    await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["tags"])
    return updated, after_tags


async def tag_counts(session: AsyncSession) -> list[tuple[str, int]]:
    """Every tag with how many mentions carry it, most used first."""
    rows = await session.execute(
        select(Tag.name, func.count(MentionTag.mention_id))
        .outerjoin(MentionTag, MentionTag.tag_id == Tag.id)
        .group_by(Tag.name)
        .order_by(func.count(MentionTag.mention_id).desc(), Tag.name)
    )
    return [(name, count) for name, count in rows]

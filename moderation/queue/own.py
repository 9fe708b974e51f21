"""Our own voice in the queue: our posts are answers, never incoming items.

The reaction (added in `api.wiring.build_reactions`, before triage) marks the authors of new
and changed mentions that are our own accounts, takes their posts out of the queue (no queue
item: nothing lists, counts, scores or times them), and links a reply from our account to the
mention it answers, whether it went out through Luister or was written on the platform: that
mention becomes answered, its first response at our reply's `created_at`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam, delete, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.id_lists import ids_in
from listener.models import Author, Mention, OwnAccount, QueueItem, Status, utcnow
from listener.own_accounts import (
    add_own_account,
    mark_own_authors,
    own_rules,
    remove_own_account,
)
from listener.reactions import MentionsChanged, MentionsHook
from listener.settings import Settings
from moderation.queue import workflow
from moderation.queue.priority import PriorityConfig, refresh_priorities

HOOK_NAME = "moderation.own_voice"
# An answer from us closes the wait of a mention in any of these.
ANSWERABLE = frozenset({Status.NEW, Status.OPEN, Status.ESCALATED, Status.SNOOZED})


async def _marked_authors(session: AsyncSession) -> set[int]:
    """Every author marked as one of our accounts (few; `ix_authors_own_account_id`)."""
    rows = await session.execute(select(Author.id).where(Author.own_account_id.is_not(None)))
    return set(rows.scalars())


def _texts_in(session: AsyncSession, column: Any, values: list[str]) -> ColumnElement[bool]:
    """`column` is one of `values` (strings): one array parameter on PostgreSQL, as `ids_in`."""
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, values, type_=postgresql.ARRAY(String))
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


async def _earlier_replies(
    session: AsyncSession, *, parents: set[tuple[str, str]], authors: set[int], skip: set[int]
) -> list[Mention]:
    """Posts by `authors` (not in `skip`) that reply to one of `parents` (platform, external id).

    Driven by the batch: the parents' ids are looked up in the index on the replied-to id
    (`ix_mentions_reply_to_external_id_platform`), whatever the number of mentions stored.
    """
    rows = await session.execute(
        select(Mention)
        .where(
            _texts_in(session, Mention.reply_to_external_id, sorted({e for _, e in parents})),
            # `+ 0`: the author filter is checked on the few rows found, not used as an index
            # (SQLite would otherwise read every post of ours, growing with them).
            ids_in(session, Mention.author_id + 0, sorted(authors)),
        )
        .order_by(Mention.created_at, Mention.id)
    )
    return [
        m
        for m in rows.scalars()
        if (m.platform, m.reply_to_external_id) in parents and m.id not in skip
    ]


async def link_our_replies(session: AsyncSession, *, ours: Iterable[Mention]) -> int:
    """Mark the mentions our posts reply to as answered at the reply's time; how many."""
    answered = 0
    for reply in sorted(ours, key=lambda m: m.created_at):
        if not reply.reply_to_external_id:
            continue
        parent = (
            await session.execute(
                select(Mention.id)
                .join(QueueItem, QueueItem.mention_id == Mention.id)
                .where(
                    Mention.platform == reply.platform,
                    Mention.external_id == reply.reply_to_external_id,
                )
                .order_by((Mention.source_id == reply.source_id).desc(), Mention.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        if parent is None:
            continue
        done = await workflow.apply_event_status(
            session,
            mention_id=parent,
            status=Status.ANSWERED,
            reason=f"answered by our account (mention {reply.id})",
            only_from=ANSWERABLE,
            at=reply.created_at,
        )
        answered += done is not None
    return answered


async def take_ours_out(session: AsyncSession, *, mention_ids: list[int]) -> list[int]:
    """Mark authors, drop our posts' queue items and link our replies; our mention ids.

    Every look-up is driven by the batch (its ids, its authors, its external ids) or by our own
    authors, through an index: the cost does not grow with the mentions stored.
    """
    if not mention_ids:
        return []
    rules = await own_rules(session)
    marked = await _marked_authors(session)
    if not rules and not marked:
        return []  # no account is ours and no author is marked ours: nothing to take out
    batch = (
        await session.execute(
            select(Mention.id, Mention.platform, Mention.external_id, Mention.author_id).where(
                ids_in(session, Mention.id, mention_ids)
            )
        )
    ).all()
    batch_authors = {r.author_id for r in batch if r.author_id is not None}
    own = set(await mark_own_authors(session, author_ids=batch_authors, rules=rules))
    # Only the batch's authors were re-marked: the others keep what they had.
    marked = (marked - batch_authors) | own
    ours_ids = [r.id for r in batch if r.author_id in own]
    ours: list[Mention] = []
    if ours_ids:
        rows = await session.execute(
            select(Mention).where(ids_in(session, Mention.id, ours_ids)).order_by(Mention.id)
        )
        ours = list(rows.scalars())
    # Our reply may have been stored before the mention it answers: link it now.
    others = [r for r in batch if r.author_id not in own]
    if others and marked:
        earlier = await _earlier_replies(
            session,
            parents={(r.platform, r.external_id) for r in others},
            authors=marked,
            skip=set(mention_ids),
        )
        await link_our_replies(session, ours=earlier)
    if ours:
        await session.execute(
            delete(QueueItem)
            .where(ids_in(session, QueueItem.mention_id, ours_ids))
            .execution_options(synchronize_session=False)
        )
        await link_our_replies(session, ours=ours)
    return [m.id for m in ours]


def own_voice_reaction(settings: Settings) -> MentionsHook:
    """Our posts leave the queue; our replies answer what they reply to."""

    async def _react(session: AsyncSession, change: MentionsChanged) -> None:
        await take_ours_out(session, mention_ids=[*change.new_ids, *change.updated_ids])

    return _react


async def apply_own_accounts(session: AsyncSession, *, settings: Settings) -> int:
    """After own accounts changed: every post of ours leaves the queue; how many did."""
    ids = (
        await session.execute(
            select(Mention.id)
            .join(Author, Author.id == Mention.author_id)
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .where(Author.own_account_id.is_not(None))
        )
    ).scalars()
    return len(await take_ours_out(session, mention_ids=list(ids)))


async def requeue_authors(
    session: AsyncSession, *, author_ids: list[int], settings: Settings, now: datetime | None = None
) -> int:
    """Accounts no longer ours: their posts enter the queue (scored, on the one clock)."""
    if not author_ids:
        return 0
    now = now or utcnow()
    ids = list(
        (
            await session.execute(
                select(Mention.id)
                .outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
                .where(Mention.author_id.in_(author_ids), QueueItem.mention_id.is_(None))
            )
        ).scalars()
    )
    for mention_id in ids:
        session.add(QueueItem(mention_id=mention_id, status_changed_at=now, updated_at=now))
    await session.flush()
    await refresh_priorities(
        session, mention_ids=ids, config=PriorityConfig.from_settings(settings), now=now
    )
    return len(ids)


async def add_account(
    session: AsyncSession,
    *,
    settings: Settings,
    platform: str,
    handle: str | None = None,
    platform_id: str | None = None,
    label: str | None = None,
) -> tuple[OwnAccount, int]:
    """Configure an own account; its posts leave the queue. The account and how many left."""
    account = await add_own_account(
        session, platform=platform, handle=handle, platform_id=platform_id, label=label
    )
    return account, await apply_own_accounts(session, settings=settings)


async def remove_account(session: AsyncSession, *, settings: Settings, account_id: int) -> int:
    """Stop treating an account as ours; its posts enter the queue. How many did."""
    authors = await remove_own_account(session, account_id=account_id)
    return await requeue_authors(session, author_ids=authors, settings=settings)

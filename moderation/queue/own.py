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

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.id_lists import ids_in
from listener.models import Author, Mention, OwnAccount, QueueItem, Status, utcnow
from listener.own_accounts import add_own_account, mark_own_authors, remove_own_account
from listener.reactions import MentionsChanged, MentionsHook
from listener.settings import Settings
from moderation.queue import workflow
from moderation.queue.priority import PriorityConfig, refresh_priorities

HOOK_NAME = "moderation.own_voice"
# An answer from us closes the wait of a mention in any of these.
ANSWERABLE = frozenset({Status.NEW, Status.OPEN, Status.ESCALATED, Status.SNOOZED})


async def _our_mentions(session: AsyncSession, mention_ids: list[int]) -> list[Mention]:
    if not mention_ids:
        return []
    rows = await session.execute(
        select(Mention)
        .join(Author, Author.id == Mention.author_id)
        .where(ids_in(session, Mention.id, mention_ids), Author.own_account_id.is_not(None))
    )
    return list(rows.scalars())


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
    """Mark authors, drop our posts' queue items and link our replies; our mention ids."""
    if not mention_ids:
        return []
    author_ids = (
        await session.execute(
            select(Mention.author_id).where(
                ids_in(session, Mention.id, mention_ids), Mention.author_id.is_not(None)
            )
        )
    ).scalars()
    await mark_own_authors(session, author_ids=[a for a in author_ids if a is not None])
    ours = await _our_mentions(session, mention_ids)
    # Our reply may have been stored before the mention it answers: link it now.
    others = [i for i in mention_ids if i not in {m.id for m in ours}]
    if others:
        parents = (
            await session.execute(
                select(Mention.platform, Mention.external_id).where(
                    ids_in(session, Mention.id, others)
                )
            )
        ).all()
        earlier = (
            await session.execute(
                select(Mention)
                .join(Author, Author.id == Mention.author_id)
                .where(
                    Author.own_account_id.is_not(None),
                    Mention.reply_to_external_id.in_([p.external_id for p in parents]),
                    Mention.platform.in_({p.platform for p in parents}),
                )
            )
        ).scalars()
        await link_our_replies(session, ours=[m for m in earlier if m.id not in set(mention_ids)])
    if ours:
        await session.execute(
            delete(QueueItem)
            .where(QueueItem.mention_id.in_([m.id for m in ours]))
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

"""Claims: a lease per item; exactly one of two claimants wins, the other gets 409."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import QueueItem, Role, Status, User, utcnow
from listener.sources.ingest import ingest_mentions
from moderation.queue import claims, workflow
from moderation.queue.errors import ClaimedByOther, NotPermitted
from tests.factories import mention
from tests.moderation.staff import staff_user


@pytest.fixture
async def setup(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, User, User, User]:
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [mention(1)])
        anna = await staff_user(session, "anna", Role.MODERATOR)
        bram = await staff_user(session, "bram", Role.MODERATOR)
        boss = await staff_user(session, "boss", Role.ADMIN)
    return report.new_mention_ids[0], anna, bram, boss


async def _claim(sessions: async_sessionmaker[AsyncSession], mention_id: int, who: User) -> str:
    async with sessions() as session:
        try:
            await claims.claim_item(
                session, mention_id=mention_id, actor=who, actor_label=who.username, minutes=10
            )
        except ClaimedByOther as exc:
            await session.rollback()
            return f"409 held by {exc.extra['claim']['username']}"
        await asyncio.sleep(0.2)  # hold the row lock while the other claimant tries
        await session.commit()
        return "won"


async def test_two_moderators_claiming_at_once_one_wins_the_other_gets_409(
    sessions: async_sessionmaker[AsyncSession], setup: tuple[int, User, User, User]
) -> None:
    mention_id, anna, bram, _ = setup
    results = await asyncio.gather(
        _claim(sessions, mention_id, anna), _claim(sessions, mention_id, bram)
    )

    assert sorted(results)[1] == "won"
    winner = anna if results[0] == "won" else bram
    assert sorted(results)[0] == f"409 held by {winner.username}"
    async with sessions() as session:
        held = await claims.current_claim(session, mention_id=mention_id)
    assert held.username == winner.username


async def test_an_expired_claim_can_be_taken(
    sessions: async_sessionmaker[AsyncSession], setup: tuple[int, User, User, User]
) -> None:
    mention_id, anna, bram, _ = setup
    assert await _claim(sessions, mention_id, anna) == "won"
    assert await _claim(sessions, mention_id, bram) == "409 held by anna"
    async with sessions() as session, session.begin():
        await session.execute(
            update(QueueItem)
            .where(QueueItem.mention_id == mention_id)
            .values(claim_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await _claim(sessions, mention_id, bram) == "won"


async def test_others_cannot_change_a_claimed_item_unless_an_admin_forces_it(
    sessions: async_sessionmaker[AsyncSession], setup: tuple[int, User, User, User]
) -> None:
    mention_id, anna, bram, boss = setup
    await _claim(sessions, mention_id, anna)
    async with sessions() as session:
        with pytest.raises(ClaimedByOther):
            await workflow.change_status(
                session,
                mention_id=mention_id,
                status=Status.SPAM,
                version=1,
                actor=bram,
                actor_label="bram",
            )
        with pytest.raises(NotPermitted):
            await workflow.change_status(
                session,
                mention_id=mention_id,
                status=Status.SPAM,
                version=1,
                actor=bram,
                actor_label="bram",
                force=True,
            )
        item = await workflow.change_status(
            session,
            mention_id=mention_id,
            status=Status.SPAM,
            version=1,
            actor=boss,
            actor_label="boss",
            force=True,
        )
        await session.commit()
    assert item.status == "spam"
    async with sessions() as session:
        mine = await workflow.change_status(
            session,
            mention_id=mention_id,
            status=Status.OPEN,
            version=2,
            actor=anna,
            actor_label="anna",
        )
    assert mine.status == "open"  # the holder herself may act

"""Queue rules: the transition table and compare-and-swap writes under real concurrency."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.accounts.service import create_user
from listener.models import AuditEntry, Role, Status, User
from listener.sources.ingest import ingest_mentions
from moderation.queue import workflow
from moderation.queue.errors import IllegalTransition, StaleVersion
from tests.factories import mention


def test_every_status_can_be_left_and_new_is_never_reentered() -> None:
    for status in Status:
        assert workflow.TRANSITIONS[status], f"{status} is a dead end"
        assert Status.NEW not in workflow.TRANSITIONS[status]
        assert status not in workflow.TRANSITIONS[status]


def test_closed_items_can_only_be_reopened() -> None:
    for status in (Status.RESOLVED, Status.HIDDEN, Status.SPAM):
        assert workflow.allowed_next(status) == ["open"]


@pytest.fixture
async def setup(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, User, User]:
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [mention(1)])
        anna = await create_user(session, username="anna", password="password1", role=Role.ADMIN)
        bram = await create_user(session, username="bram", password="password1", role=Role.ADMIN)
    return report.new_mention_ids[0], anna, bram


async def test_two_sessions_with_the_same_version_exactly_one_succeeds(
    sessions: async_sessionmaker[AsyncSession], setup: tuple[int, User, User]
) -> None:
    mention_id, anna, bram = setup
    first_updated = asyncio.Event()

    async def first() -> str:
        async with sessions() as session:
            await workflow.change_status(
                session,
                mention_id=mention_id,
                status=Status.ANSWERED,
                version=1,
                actor=anna,
                actor_label="anna",
            )
            first_updated.set()
            await asyncio.sleep(0.3)  # hold the row while the other session tries
            await session.commit()
            return "ok"

    async def second() -> str:
        await first_updated.wait()
        async with sessions() as session:
            try:
                await workflow.change_status(
                    session,
                    mention_id=mention_id,
                    status=Status.SPAM,
                    version=1,
                    actor=bram,
                    actor_label="bram",
                )
            except StaleVersion as exc:
                await session.rollback()
                return f"409 {exc.extra['current']['status']}"
            await session.commit()
            return "ok"

    results = await asyncio.gather(first(), second())

    assert results == ["ok", "409 answered"]
    async with sessions() as session:
        item = await workflow.get_queue_item(session, mention_id=mention_id)
        audits = (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
    assert (item.status, item.version) == ("answered", 2)
    assert audits == 1


async def test_illegal_transition_names_the_allowed_ones(
    sessions: async_sessionmaker[AsyncSession], setup: tuple[int, User, User]
) -> None:
    mention_id, anna, _ = setup
    async with sessions() as session:
        await workflow.change_status(
            session,
            mention_id=mention_id,
            status=Status.RESOLVED,
            version=1,
            actor=anna,
            actor_label="anna",
        )
        with pytest.raises(IllegalTransition) as caught:
            await workflow.change_status(
                session,
                mention_id=mention_id,
                status=Status.SNOOZED,
                version=2,
                actor=anna,
                actor_label="anna",
            )
    assert caught.value.extra["allowed"] == ["open"]

"""Snooze, escalate, reopen: snoozed items wake on time or when their author writes again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import AuditEntry, Mention, QueueItem, Role, Status, User, utcnow
from listener.sources.ingest import ingest_mentions
from moderation.queue import authors, workflow
from moderation.queue.errors import IllegalTransition, InvalidRequest, StaleVersion
from moderation.queue.snooze import wake_due_snoozes
from tests.factories import mention
from tests.moderation.staff import staff_user


@pytest.fixture
async def anna(sessions: async_sessionmaker[AsyncSession]) -> User:
    async with sessions() as session, session.begin():
        return await staff_user(session, "anna", Role.MODERATOR)


async def _ingest(sessions: async_sessionmaker[AsyncSession], *items: dict) -> list[int]:
    async with sessions() as session, session.begin():
        return (await ingest_mentions(session, list(items))).new_mention_ids


async def _item(sessions: async_sessionmaker[AsyncSession], mention_id: int) -> QueueItem:
    async with sessions() as session:
        return await workflow.get_queue_item(session, mention_id=mention_id)


async def test_a_snoozed_item_reopens_when_its_author_posts_again(
    sessions: async_sessionmaker[AsyncSession], anna: User
) -> None:
    # mention(1) and mention(8) share author u1; mention(2) is someone else.
    (first,) = await _ingest(sessions, mention(1))
    async with sessions() as session, session.begin():
        await workflow.snooze(
            session,
            mention_id=first,
            version=1,
            actor=anna,
            actor_label="anna",
            until_author_writes=True,
            reason="waiting for their order number",
        )
    await _ingest(sessions, mention(2))
    assert (await _item(sessions, first)).status == "snoozed"

    (again,) = await _ingest(sessions, mention(8))

    item = await _item(sessions, first)
    assert (item.status, item.version) == ("open", 3)
    assert item.status_reason == f"author wrote again (mention {again})"
    assert item.snooze_until_author is False
    async with sessions() as session:
        wake = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "wake"))
        ).scalar_one()
    assert (wake.actor, wake.mention_id, wake.before["status"]) == ("system", first, "snoozed")


async def test_the_author_writing_from_a_linked_identity_also_wakes_it(
    sessions: async_sessionmaker[AsyncSession], anna: User
) -> None:
    (first,) = await _ingest(sessions, mention(1))
    bluesky = mention(
        50,
        platform="bluesky",
        source="bluesky-test",
        external_id="at://did:plc:u1/app.bsky.feed.post/1",
        author={"platform_id": "did:plc:u1", "handle": "u1.bsky.social"},
    )
    (other,) = await _ingest(sessions, bluesky)
    async with sessions() as session, session.begin():
        ids = dict((await session.execute(select(Mention.id, Mention.author_id))).all())
        await authors.link_authors(session, author_id=ids[first], other_id=ids[other], actor=anna)
        await workflow.snooze(
            session,
            mention_id=first,
            version=1,
            actor=anna,
            actor_label="anna",
            until_author_writes=True,
        )

    await _ingest(sessions, bluesky | {"external_id": "at://did:plc:u1/app.bsky.feed.post/2"})

    assert (await _item(sessions, first)).status == "open"


async def test_a_timed_snooze_wakes_when_its_time_comes(
    sessions: async_sessionmaker[AsyncSession], anna: User
) -> None:
    (first,) = await _ingest(sessions, mention(1))
    until = utcnow() + timedelta(hours=2)
    async with sessions() as session, session.begin():
        await workflow.snooze(
            session, mention_id=first, version=1, actor=anna, actor_label="anna", until=until
        )
    async with sessions() as session, session.begin():
        assert await wake_due_snoozes(session, now=until - timedelta(minutes=1)) == []
    async with sessions() as session, session.begin():
        assert await wake_due_snoozes(session, now=until + timedelta(minutes=1)) == [first]
    item = await _item(sessions, first)
    assert (item.status, item.status_reason, item.snoozed_until) == ("open", "snooze ended", None)


async def test_a_moderator_acting_on_the_snoozed_state_gets_409_after_it_woke(
    sessions: async_sessionmaker[AsyncSession], anna: User
) -> None:
    (first,) = await _ingest(sessions, mention(1))
    async with sessions() as session, session.begin():
        await workflow.snooze(
            session,
            mention_id=first,
            version=1,
            actor=anna,
            actor_label="anna",
            until_author_writes=True,
        )
    await _ingest(sessions, mention(8))
    async with sessions() as session:
        with pytest.raises(StaleVersion):
            await workflow.change_status(
                session,
                mention_id=first,
                status=Status.RESOLVED,
                version=2,
                actor=anna,
                actor_label="anna",
            )


async def test_snooze_needs_a_time_or_the_author_and_a_time_in_the_future(
    sessions: async_sessionmaker[AsyncSession], anna: User
) -> None:
    (first,) = await _ingest(sessions, mention(1))
    async with sessions() as session:
        with pytest.raises(InvalidRequest):
            await workflow.snooze(session, mention_id=first, version=1, actor=anna, actor_label="a")
        with pytest.raises(InvalidRequest):
            await workflow.snooze(
                session,
                mention_id=first,
                version=1,
                actor=anna,
                actor_label="a",
                until=utcnow() - timedelta(minutes=1),
            )


async def test_escalation_keeps_its_reason_and_reopen_lists_what_is_allowed(
    sessions: async_sessionmaker[AsyncSession], anna: User
) -> None:
    (first,) = await _ingest(sessions, mention(1))
    async with sessions() as session, session.begin():
        item = await workflow.escalate(
            session,
            mention_id=first,
            version=1,
            reason="legal threat",
            actor=anna,
            actor_label="anna",
        )
        assert (item.status, item.status_reason) == ("escalated", "legal threat")
        item = await workflow.reopen(
            session, mention_id=first, version=2, actor=anna, actor_label="anna"
        )
        assert (item.status, item.status_reason) == ("open", None)
        with pytest.raises(IllegalTransition) as caught:
            await workflow.reopen(session, mention_id=first, version=3, actor=anna, actor_label="a")
    assert "open" not in caught.value.extra["allowed"]

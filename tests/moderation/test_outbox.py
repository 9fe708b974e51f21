"""The outbox on a real database: undo, sending once, statuses following replies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import AuditEntry, OutboxMessage, Response, utcnow
from listener.settings import Settings
from moderation.outbox import service as outbox
from moderation.outbox.followup import follow_thread
from moderation.outbox.sending import deliver
from moderation.outbox.service import OutboxConflict
from tests.connectors.fake_platforms import FakeDiscourse, FakeMastodon
from tests.connectors.servers import LoopbackServer, Reply
from tests.moderation.outbox_helpers import (
    discourse_source,
    hear_post,
    hear_status,
    item_status,
    mastodon_source,
    row,
    staff,
)

ANSWER = "Thanks Anna, a fix for lost rides ships on Monday."


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as guarded:
        yield guarded


@pytest.fixture
def server() -> AsyncIterator[LoopbackServer]:
    with LoopbackServer("127.0.0.1") as running:
        yield running


async def scheduled_reply(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mention_id: int,
    body: str = ANSWER,
) -> int:
    mod = await staff(sessions, "mod")
    async with sessions() as session, session.begin():
        draft = await outbox.create_reply(session, mention_id=mention_id, body=body, actor=mod)
        await outbox.schedule(
            session, outbox_id=draft.id, version=draft.version, actor=mod, settings=settings
        )
        return draft.id


async def test_sending_a_reply_sets_the_item_answered_and_records_the_response_time(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    fake = FakeMastodon(server)
    source_id = await mastodon_source(sessions, settings, fake)
    anna = fake.add_status("My rides get lost", acct="anna@mastodon.example")
    mention_id = await hear_status(sessions, source_id, anna, minutes_ago=10)
    outbox_id = await scheduled_reply(sessions, settings, mention_id)

    done = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    sent = await row(sessions, outbox_id)
    assert done.status == "sent" and sent.status == "sent"
    assert sent.url == fake.ours()[0]["url"]
    assert fake.ours()[0]["in_reply_to_id"] == anna["id"]
    assert await item_status(sessions, mention_id) == "answered"
    async with sessions() as session:
        response = (await session.execute(select(Response))).scalar_one()
        actions = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor).where(
                    AuditEntry.mention_id == mention_id
                )
            )
        ).all()
    assert 600 <= response.response_seconds < 700
    assert ("outbox.sent", "system") in actions and ("status", "system") in actions


async def test_an_undo_inside_the_window_means_the_platform_never_sees_the_reply(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    fake = FakeMastodon(server)
    source_id = await mastodon_source(sessions, settings, fake)
    mention_id = await hear_status(sessions, source_id, fake.add_status("Lost rides"))
    outbox_id = await scheduled_reply(sessions, settings, mention_id)  # 30 s undo window
    early = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)
    mod = await staff(sessions, "other")

    async with sessions() as session, session.begin():
        undone = await outbox.undo(session, outbox_id=outbox_id, actor=mod)
    async with sessions() as session, session.begin():  # the window would have closed by now
        await session.execute(
            update(OutboxMessage).values(scheduled_at=utcnow() - timedelta(minutes=1))
        )
    late = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    assert early.status == late.status == "skipped"
    assert undone.status == "draft"
    assert fake.posted("/api/v1/statuses") == []
    assert await item_status(sessions, mention_id) == "new"


async def test_once_sent_a_reply_cannot_be_undone(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    fake = FakeMastodon(server)
    source_id = await mastodon_source(sessions, settings, fake)
    mention_id = await hear_status(sessions, source_id, fake.add_status("Lost rides"))
    outbox_id = await scheduled_reply(sessions, settings, mention_id)
    await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)
    mod = await staff(sessions, "late")

    async with sessions() as session:
        with pytest.raises(OutboxConflict, match="it is sent"):
            await outbox.undo(session, outbox_id=outbox_id, actor=mod)


async def test_a_reply_from_the_author_to_our_answer_reopens_the_item(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    fake = FakeMastodon(server)
    source_id = await mastodon_source(sessions, settings, fake)
    anna = fake.add_status("My rides get lost", acct="anna@mastodon.example")
    mention_id = await hear_status(sessions, source_id, anna)
    outbox_id = await scheduled_reply(sessions, settings, mention_id)
    await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)
    ours = fake.ours()[0]
    fake.add_status(
        "Still broken on Android", acct="bob@mastodon.example", in_reply_to_id=ours["id"]
    )
    assert await item_status(sessions, mention_id) == "answered"

    fake.add_status("Still broken for me", acct="anna@mastodon.example", in_reply_to_id=ours["id"])
    followed = await follow_thread(sessions, outbox_id=outbox_id, settings=settings, client=client)

    assert followed.new == 2
    assert await item_status(sessions, mention_id) == "open"


async def test_an_unknown_outcome_is_settled_by_finding_our_reply_not_by_sending_again(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    fake = FakeDiscourse(server)
    source_id = await discourse_source(sessions, settings, fake)
    mention_id = await hear_post(
        sessions, source_id, fake.add_post("The app is broken"), server.base_url
    )
    outbox_id = await scheduled_reply(sessions, settings, mention_id)
    # The forum stores the post, then its proxy times out: we cannot tell it worked.
    fake.on_create = lambda request: Reply.json({"error": "gateway timeout"}, status=504)

    first = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)
    unsure = await row(sessions, outbox_id)
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(scheduled_at=utcnow()))
    fake.on_create = None
    second = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    assert first.status == "failed" and unsure.unsure_since is not None
    assert second.status == "sent"
    assert len(fake.posted("/posts.json")) == 1
    sent = await row(sessions, outbox_id)
    assert sent.external_id == f"127.0.0.1:{fake.posts[-1]['id']}"
    assert sent.unsure_since is None


async def test_mastodon_is_sent_again_with_the_same_key_after_an_unknown_outcome(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    fake = FakeMastodon(server)
    source_id = await mastodon_source(sessions, settings, fake)
    mention_id = await hear_status(sessions, source_id, fake.add_status("Lost rides"))
    outbox_id = await scheduled_reply(sessions, settings, mention_id)
    fake.on_create = lambda request: Reply(status=502)

    await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(scheduled_at=utcnow()))
    fake.on_create = None
    await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    keys = {r.headers["idempotency-key"] for r in fake.posted("/api/v1/statuses")}
    assert len(fake.posted("/api/v1/statuses")) == 2 and len(keys) == 1
    assert len(fake.ours()) == 1
    assert (await row(sessions, outbox_id)).status == "sent"


async def test_a_rate_limited_reply_waits_as_long_as_the_platform_asks(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    fake = FakeDiscourse(server)
    source_id = await discourse_source(sessions, settings, fake)
    mention_id = await hear_post(
        sessions, source_id, fake.add_post("The app is broken"), server.base_url
    )
    outbox_id = await scheduled_reply(sessions, settings, mention_id)
    server.route(
        "/posts.json",
        Reply.json({"errors": ["slow down"]}, status=429, headers={"Retry-After": "600"}),
        method="POST",
    )

    done = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    waiting = await row(sessions, outbox_id)
    assert done.status == "failed" and waiting.unsure_since is None
    assert waiting.scheduled_at is not None
    assert timedelta(seconds=590) < waiting.scheduled_at - utcnow() < timedelta(seconds=610)
    assert "429" in (waiting.last_error or "")
    assert fake.posts[-1]["username"] == "anna"  # nothing of ours arrived


async def test_placeholders_and_a_missing_approval_keep_a_reply_from_leaving(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
) -> None:
    settings = settings.model_copy(update={"outbox_require_approval": True})
    fake = FakeMastodon(server)
    source_id = await mastodon_source(sessions, settings, fake)
    mention_id = await hear_status(sessions, source_id, fake.add_status("Lost rides"))
    writer, reviewer = await staff(sessions, "writer"), await staff(sessions, "reviewer")

    async with sessions() as session, session.begin():
        draft = await outbox.create_reply(
            session, mention_id=mention_id, body="Hi, ### say when ###", actor=writer
        )
    async with sessions() as session:
        with pytest.raises(outbox.PlaceholdersUnfilled):
            await outbox.schedule(
                session, outbox_id=draft.id, version=draft.version, actor=writer, settings=settings
            )
    async with sessions() as session, session.begin():
        edited = await outbox.edit(
            session, outbox_id=draft.id, version=draft.version, body=ANSWER, actor=writer
        )
    async with sessions() as session:
        with pytest.raises(outbox.ApprovalRequired):
            await outbox.schedule(
                session, outbox_id=draft.id, version=edited.version, actor=writer, settings=settings
            )
        with pytest.raises(outbox.ApprovalRequired):
            await outbox.approve(session, outbox_id=draft.id, version=edited.version, actor=writer)
    async with sessions() as session, session.begin():
        approved = await outbox.approve(
            session, outbox_id=draft.id, version=edited.version, actor=reviewer
        )
        scheduled = await outbox.schedule(
            session, outbox_id=draft.id, version=approved.version, actor=writer, settings=settings
        )

    assert scheduled.status == "scheduled" and scheduled.approved_by_id == reviewer.id

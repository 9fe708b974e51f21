"""A question posted to a fake Mastodon gathers its replies as answers, summed up in a view."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.wiring import JOBS
from listener.kit.http import make_client
from listener.models import Mention, MentionTopic, OutboxMessage, QueueItem, Role, Topic
from listener.settings import Settings
from moderation.outbox.tasks import follow_due_threads
from tests.conftest import MakeStaff
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.moderation.outbox_helpers import mastodon_source


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No undo window: the question leaves on the next tick."""
    return settings.model_copy(update={"outbox_undo_seconds": 0})


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as client:
        yield client


async def interval_passes(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Make every followed thread due for another read."""
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(followed_at=None))


async def tag_answers(sessions: async_sessionmaker[AsyncSession], labels: dict[str, str]) -> None:
    """What the tagger would have said about each answer (by its text)."""
    async with sessions() as session, session.begin():
        topic = Topic(name="night mode", keywords={})
        session.add(topic)
        await session.flush()
        for text, label in labels.items():
            mention = (
                await session.execute(select(Mention).where(Mention.text == text))
            ).scalar_one()
            mention.sentiment_label = label
            if "night" in text:
                session.add(MentionTopic(mention_id=mention.id, topic_id=topic.id, spans=[]))


async def test_a_question_gathers_the_replies_in_its_thread_as_answers(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    make_staff: MakeStaff,
    guarded: httpx.AsyncClient,
) -> None:
    mod = await make_staff(Role.MODERATOR)
    with LoopbackServer("127.0.0.1") as server:
        fake = FakeMastodon(server)
        source_id = await mastodon_source(sessions, settings, fake)
        asked = await client.post(
            "/api/v1/questions",
            json={"body": "What would you like us to fix first?", "source_id": source_id},
            headers=mod.headers,
        )
        runner = EmbeddedRunner(sessions, settings, JOBS)
        runner.client = guarded
        assert await runner.run_now("sweep_outbox") == 1  # the embedded runner sends it
        [ours] = fake.ours()
        fake.add_status(
            "A night mode please", acct="anna@mastodon.example", in_reply_to_id=ours["id"]
        )
        bob = fake.add_status("Faster sync", acct="bob@mastodon.example", in_reply_to_id=ours["id"])
        fake.add_status("Yes, night mode!", acct="carol@mastodon.example", in_reply_to_id=bob["id"])
        await interval_passes(sessions)
        followed = await follow_due_threads(sessions, settings=settings, client=guarded)
        await interval_passes(sessions)
        await follow_due_threads(sessions, settings=settings, client=guarded)

    assert asked.status_code == 201, asked.text
    assert ours["in_reply_to_id"] is None and ours["content"].startswith("<p>What would you like")
    assert followed == 1
    await tag_answers(
        sessions,
        {
            "A night mode please": "positive",
            "Faster sync": "neutral",
            "Yes, night mode!": "positive",
        },
    )
    question_id = asked.json()["question"]["id"]
    view = (await client.get(f"/api/v1/questions/{question_id}", headers=mod.headers)).json()
    assert sorted(a["text"] for a in view["answers"]) == [
        "A night mode please",
        "Faster sync",
        "Yes, night mode!",
    ]
    assert view["sentiment"] == {"positive": 2, "neutral": 1}
    assert view["topics"] == [{"topic": "night mode", "answers": 2}]
    assert view["unread"] == 3
    assert view["posts"][0]["status"] == "sent" and view["posts"][0]["url"] == ours["url"]
    async with sessions() as session:
        priorities = (await session.execute(select(QueueItem.priority))).scalars().all()
    assert sorted(priorities) == [70, 70, 70]  # answers to our questions rank high

    read = await client.post(f"/api/v1/questions/{question_id}/read", json={}, headers=mod.headers)
    listed = (await client.get("/api/v1/questions", headers=mod.headers)).json()
    assert read.json() == {"marked": 3, "unread": 0}
    assert [(q["answers"], q["unread"]) for q in listed] == [(3, 0)]

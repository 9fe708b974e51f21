"""The replies, appreciation, external-answer and template endpoints, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import Mention, OutboxMessage, Role, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.outbox.sending import deliver
from tests.conftest import MakeStaff, Staff
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.factories import mention
from tests.moderation.outbox_helpers import hear_status, item_status, mastodon_source

PROBLEM = "application/problem+json"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with LoopbackServer("127.0.0.1") as server:
        yield FakeMastodon(server)


@pytest.fixture
async def anna(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fake: FakeMastodon
) -> int:
    """Anna's complaint, heard through the organisation's Mastodon source."""
    source_id = await mastodon_source(sessions, settings, fake)
    status = fake.add_status("My rides get lost", acct="anna@mastodon.example")
    return await hear_status(sessions, source_id, status)


@pytest.fixture
async def mod(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="mod")


async def test_a_moderator_sends_a_reply_and_undoes_it_before_it_leaves(
    client: httpx.AsyncClient, anna: int, mod: Staff, fake: FakeMastodon
) -> None:
    sent = await client.post(
        f"/api/v1/mentions/{anna}/replies",
        json={"body": "Thanks, we are on it!", "send": True},
        headers=mod.headers,
    )
    reply = sent.json()
    undone = await client.post(f"/api/v1/replies/{reply['id']}/undo", headers=mod.headers)
    listed = await client.get(f"/api/v1/mentions/{anna}/replies", headers=mod.headers)

    assert sent.status_code == 201 and reply["status"] == "scheduled"
    leaves_in = datetime.fromisoformat(reply["scheduled_at"]) - utcnow()
    assert timedelta(seconds=25) < leaves_in <= timedelta(seconds=30)
    assert undone.status_code == 200 and undone.json()["status"] == "draft"
    assert [r["status"] for r in listed.json()] == ["draft"]
    assert fake.posted("/api/v1/statuses") == []


async def test_undo_after_the_reply_left_is_a_conflict(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    anna: int,
    mod: Staff,
) -> None:
    sent = await client.post(
        f"/api/v1/mentions/{anna}/replies",
        json={"body": "Thanks, we are on it!", "send": True},
        headers=mod.headers,
    )
    async with sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(scheduled_at=utcnow()))
    async with make_client(settings) as guarded:
        await deliver(sessions, outbox_id=sent.json()["id"], settings=settings, client=guarded)

    late = await client.post(f"/api/v1/replies/{sent.json()['id']}/undo", headers=mod.headers)

    assert late.status_code == 409
    assert late.headers["content-type"] == PROBLEM
    assert late.json()["type"] == "urn:luister:problem:outbox-conflict"
    assert late.json()["current"]["status"] == "sent"
    assert await item_status(sessions, anna) == "answered"


async def test_a_reply_too_long_for_the_instance_is_refused_before_sending(
    client: httpx.AsyncClient, anna: int, mod: Staff, fake: FakeMastodon
) -> None:
    fake.max_characters = 40

    refused = await client.post(
        f"/api/v1/mentions/{anna}/replies",
        json={
            "body": "This answer is much longer than the forty characters allowed.",
            "send": True,
        },
        headers=mod.headers,
    )

    assert refused.status_code == 400
    assert refused.json()["type"] == "urn:luister:problem:platform-rule"
    assert "allows 40" in refused.json()["detail"]


async def test_analysts_read_replies_but_cannot_write_them(
    client: httpx.AsyncClient, anna: int, make_staff: MakeStaff
) -> None:
    analyst = await make_staff(Role.ANALYST)

    write = await client.post(
        f"/api/v1/mentions/{anna}/replies", json={"body": "hi"}, headers=analyst.headers
    )
    read = await client.get(f"/api/v1/mentions/{anna}/replies", headers=analyst.headers)
    anonymous = await client.get(f"/api/v1/mentions/{anna}/replies")

    assert (write.status_code, read.status_code, anonymous.status_code) == (403, 200, 401)


async def test_a_template_fills_in_the_author_and_blocks_sending_until_its_placeholder_is_filled(
    client: httpx.AsyncClient, anna: int, mod: Staff, make_staff: MakeStaff
) -> None:
    admin = await make_staff(Role.ADMIN)
    made = await client.post(
        "/api/v1/templates",
        json={"name": "sorry", "language": "en", "body": "Sorry {{author_name}}! ### when ###"},
        headers=admin.headers,
    )
    template_id = made.json()["id"]

    blocked = await client.post(
        f"/api/v1/mentions/{anna}/replies",
        json={"template_id": template_id, "send": True},
        headers=mod.headers,
    )
    rendered = await client.post(
        f"/api/v1/templates/{template_id}/render", json={"mention_id": anna}, headers=mod.headers
    )
    not_admin = await client.post(
        "/api/v1/templates", json={"name": "x", "body": "y"}, headers=mod.headers
    )

    assert made.status_code == 201 and not_admin.status_code == 403
    assert blocked.status_code == 409
    assert blocked.json()["placeholders"] == ["### when ###"]
    assert rendered.json() == {"text": "Sorry Anna! ### when ###", "unfilled": ["### when ###"]}


async def test_suggestions_put_templates_for_the_mentions_language_and_intent_first(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    anna: int,
    mod: Staff,
    make_staff: MakeStaff,
) -> None:
    admin = await make_staff(Role.ADMIN)
    for name, language, intents in [
        ("dank", "nl", ["complaint"]),
        ("thanks", "en", ["praise"]),
        ("sorry", "en", ["complaint"]),
        ("generic", None, []),
    ]:
        await client.post(
            "/api/v1/templates",
            json={"name": name, "language": language, "body": "…", "intents": intents},
            headers=admin.headers,
        )
    async with sessions() as session, session.begin():
        await session.execute(update(Mention).values(intents=["complaint"]))

    suggested = await client.get(
        "/api/v1/templates/suggestions", params={"mention_id": anna}, headers=mod.headers
    )

    assert [t["name"] for t in suggested.json()] == ["sorry", "thanks", "generic"]


async def test_a_like_and_a_boost_go_through_the_platform_and_can_be_taken_back(
    client: httpx.AsyncClient, anna: int, mod: Staff, fake: FakeMastodon
) -> None:
    status_id = next(iter(fake.statuses))

    liked = await client.post(
        f"/api/v1/mentions/{anna}/appreciations", json={"action": "like"}, headers=mod.headers
    )
    again = await client.post(
        f"/api/v1/mentions/{anna}/appreciations", json={"action": "like"}, headers=mod.headers
    )
    boosted = await client.post(
        f"/api/v1/mentions/{anna}/appreciations", json={"action": "boost"}, headers=mod.headers
    )
    taken_back = await client.delete(
        f"/api/v1/appreciations/{liked.json()['id']}", headers=mod.headers
    )
    listed = await client.get(f"/api/v1/mentions/{anna}/appreciations", headers=mod.headers)
    history = await client.get(f"/api/v1/mentions/{anna}", headers=mod.headers)

    assert (liked.status_code, again.status_code, boosted.status_code) == (201, 409, 201)
    assert taken_back.json()["undone_at"] is not None
    assert fake.actions == [
        ("favourite", status_id),
        ("reblog", status_id),
        ("unfavourite", status_id),
    ]
    assert [(a["action"], a["undone_at"] is None) for a in listed.json()] == [
        ("like", False),
        ("boost", True),
    ]
    actions = [h["action"] for h in history.json()["history"]]
    assert "appreciation.like" in actions and "appreciation.undo_like" in actions


async def test_an_answer_given_elsewhere_counts_as_the_response(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], mod: Staff
) -> None:
    async with sessions() as session, session.begin():
        report = await ingest_mentions(
            session, [mention(1, platform="hackernews", source="hn", external_id="41234567")]
        )
    [hn] = report.new_mention_ids

    no_api = await client.post(
        f"/api/v1/mentions/{hn}/replies", json={"body": "hi"}, headers=mod.headers
    )
    recorded = await client.post(
        f"/api/v1/mentions/{hn}/external-answers",
        json={"url": "https://news.ycombinator.com/item?id=41234999", "note": "answered in HN"},
        headers=mod.headers,
    )
    listed = await client.get(f"/api/v1/mentions/{hn}/responses", headers=mod.headers)

    assert no_api.status_code == 409
    assert no_api.json()["type"] == "urn:luister:problem:no-write-api"
    assert recorded.status_code == 201
    assert recorded.json()["response_seconds"] > 0
    assert [r["kind"] for r in listed.json()] == ["external"]
    assert await item_status(sessions, hn) == "answered"

"""Answering, appreciating and asking in the demo: through the real outbox, into the sandbox,
and the community's answers back through the thread follow-up."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.sandbox.demo import PromptFollowUp
from listener.kit.http import make_client
from listener.settings import Settings
from moderation.outbox.sending import deliver
from moderation.outbox.tasks import follow_due_threads
from tests.conftest import Staff
from tests.moderation.outbox_helpers import item_status
from tests.sandbox.conftest import ANNA_POST, CHRIS_POST, Demo, eventually

PROBLEM = "application/problem+json"


async def _send_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, outbox_id: int
) -> None:
    """What the outbox sweep does once the (zero-second) undo window closed."""
    async with make_client(settings) as guarded:
        await deliver(sessions, outbox_id=outbox_id, settings=settings, client=guarded)


async def test_a_reply_goes_out_to_the_sandbox_and_is_stored_as_sent(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    demo: Demo,
    mod: Staff,
) -> None:
    anna = demo.mentions[ANNA_POST]

    created = await client.post(
        f"/api/v1/mentions/{anna}/replies",
        json={"body": "Fijn om te horen, goede rit gewenst!", "send": True},
        headers=mod.headers,
    )
    await _send_due(sessions, settings, created.json()["id"])
    reply = await client.get(f"/api/v1/replies/{created.json()['id']}", headers=mod.headers)

    assert created.status_code == 201, created.text
    [posted] = demo.statuses_by_us()
    assert posted.in_reply_to_id == ANNA_POST
    assert posted.text == "@anna@mastodon.example Fijn om te horen, goede rit gewenst!"
    assert reply.json()["status"] == "sent"
    assert reply.json()["external_id"] == posted.uri
    assert reply.json()["url"] == posted.url


async def test_like_and_boost_reach_the_sandbox_and_undo_takes_the_like_back(
    client: httpx.AsyncClient, demo: Demo, mod: Staff
) -> None:
    anna = demo.mentions[ANNA_POST]
    status = demo.sandbox.state.get(ANNA_POST)
    assert status is not None and not status.favourited_by

    liked = await client.post(
        f"/api/v1/mentions/{anna}/appreciations", json={"action": "like"}, headers=mod.headers
    )
    boosted = await client.post(
        f"/api/v1/mentions/{anna}/appreciations", json={"action": "boost"}, headers=mod.headers
    )
    me = demo.sandbox.state.me.id
    assert liked.status_code == 201, liked.text
    assert boosted.status_code == 201, boosted.text
    assert status.favourited_by == [me]
    assert status.reblogged_by == [me]

    undone = await client.delete(f"/api/v1/appreciations/{liked.json()['id']}", headers=mod.headers)

    assert undone.status_code == 200, undone.text
    assert status.favourited_by == []
    assert status.reblogged_by == [me]


async def test_a_question_to_an_author_is_answered_and_heard_by_the_thread_follow_up(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    demo: Demo,
    mod: Staff,
) -> None:
    anna = demo.mentions[ANNA_POST]
    asked = await client.post(
        "/api/v1/questions",
        json={"mention_id": anna, "body": "Hoe vaak is het dock bij jou 's ochtends leeg?"},
        headers=mod.headers,
    )
    assert asked.status_code == 201, asked.text
    await _send_due(sessions, settings, asked.json()["post"]["id"])
    [question_status] = demo.statuses_by_us()
    state = demo.sandbox.state
    await eventually(lambda: state.replies_to(question_status.id))
    before = await client.get(
        f"/api/v1/questions/{asked.json()['question']['id']}", headers=mod.headers
    )

    async with make_client(settings) as guarded:
        followed = await follow_due_threads(sessions, settings=settings, client=guarded)
    view = await client.get(
        f"/api/v1/questions/{asked.json()['question']['id']}", headers=mod.headers
    )

    [answer] = state.replies_to(question_status.id)
    assert state.accounts[answer.account_id].acct == "anna@mastodon.example"
    assert before.json()["answers"] == []
    assert followed == 1
    [heard] = view.json()["answers"]
    assert heard["author_handle"] == "@anna@mastodon.example"
    assert heard["text"] == answer.text
    assert answer.text.startswith("@fietsbaan ")
    # Asked in Dutch about the dock in the morning: a Dutch answer about availability.
    assert "ochtend" in answer.text


async def test_a_question_posted_to_the_community_gets_answers_within_seconds_in_the_demo(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    demo: Demo,
    mod: Staff,
    prompt_follow_up: PromptFollowUp,
) -> None:
    asked = await client.post(
        "/api/v1/questions",
        json={
            "source_id": demo.sources["mastodon-fietsbaan-tag"],
            "body": "What should we improve first in the app? #fietsbaan",
            "language": "en",
        },
        headers=mod.headers,
    )
    assert asked.status_code == 201, asked.text
    await _send_due(sessions, settings, asked.json()["post"]["id"])
    question_id = asked.json()["question"]["id"]
    answers: list[dict[str, object]] = []

    async def _answered() -> bool:
        view = await client.get(f"/api/v1/questions/{question_id}", headers=mod.headers)
        answers[:] = view.json()["answers"]
        return len(answers) == 2

    # No follow-up job runs here: the demo's hook reads the thread once the community answered.
    await eventually(_answered, within=20)

    handles = {a["author_handle"] for a in answers}
    assert "@fietsbaan@mastodon.example" not in handles
    assert all(str(a["text"]).startswith("@fietsbaan ") for a in answers)
    # Two members of the community, in English, on the app.
    assert len(handles) == 2
    assert {a["text"] for a in answers} == {
        "@fietsbaan Since the last update the app only opens on the second try for me. "
        "Otherwise fine.",
        "@fietsbaan Logging in works, but scanning the QR code is slow in poor light.",
    }


async def test_a_reply_in_the_thread_of_a_mention_wakes_the_answered_item_when_the_author_answers(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    demo: Demo,
    mod: Staff,
) -> None:
    chris = demo.mentions[CHRIS_POST]
    created = await client.post(
        f"/api/v1/mentions/{chris}/replies",
        json={"body": "Sorry about that! Which phone do you use?", "send": True},
        headers=mod.headers,
    )
    await _send_due(sessions, settings, created.json()["id"])
    [ours] = demo.statuses_by_us()
    state = demo.sandbox.state
    await eventually(lambda: state.replies_to(ours.id))
    answered = await item_status(sessions, chris)

    async with make_client(settings) as guarded:
        await follow_due_threads(sessions, settings=settings, client=guarded)

    assert answered == "answered"
    assert await item_status(sessions, chris) == "open"


async def test_a_source_without_credentials_says_so_and_how_to_add_them(
    client: httpx.AsyncClient, demo: Demo, mod: Staff
) -> None:
    bluesky_source = demo.sources["bluesky-search"]
    [bluesky] = [m for e, m in demo.mentions.items() if e.startswith("at://")]

    send = await client.post(
        f"/api/v1/mentions/{bluesky}/replies",
        json={"body": "Thanks!", "send": True},
        headers=mod.headers,
    )
    like = await client.post(
        f"/api/v1/mentions/{bluesky}/appreciations", json={"action": "like"}, headers=mod.headers
    )

    for answer in (send, like):
        assert answer.status_code == 409
        assert answer.headers["content-type"] == PROBLEM
        problem = answer.json()
        assert problem["type"] == "urn:luister:problem:no-credentials"
        assert problem["title"] == "The source has no credentials to write with"
        assert problem["source_id"] == bluesky_source
        assert f"PATCH /api/v1/sources/{bluesky_source}" in problem["detail"]
        assert "identifier, app_password" in problem["detail"]
        assert "validation error" not in problem["detail"]

"""Issue 15: a question that was asked and answered before is offered the earlier answer, with
what happened next; on the demo, and for an answer sent through the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import Mention, OutboxMessage, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.outbox import service as outbox
from moderation.outbox.sending import deliver
from tests.conftest import MakeStaff
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.incidents.conftest import Demo
from tests.moderation.outbox_helpers import hear_status, mastodon_source, staff

REPEATED = "Ook dubbel afgeschreven bij Fietsbaan. Nog niks terug. Wie wel?"


@pytest.mark.asyncio(loop_scope="module")
async def test_a_repeated_question_in_the_demo_is_offered_the_earlier_answer(demo: Demo) -> None:
    async with demo.sessions() as session:
        question = (
            await session.execute(select(Mention).where(Mention.text == REPEATED))
        ).scalar_one()
    answer = await demo.api.get(
        f"/api/v1/mentions/{question.id}/earlier-answers", headers=demo.headers
    )
    assert answer.status_code == 200, answer.text
    offered = answer.json()
    assert offered, "no earlier answer offered"
    best = offered[0]
    # Chris asked the same on 6 November and Fietsbaan's Mastodon account answered.
    assert "twee keer afgeschreven" in best["text"]
    assert "afgeschreven" in best["shared_terms"]
    ours = [a for a in best["answers"] if a["kind"] == "own_post"]
    assert ours and ours[0]["text"].startswith("@chrisk Sorry!")
    assert best["status"] == "answered"
    assert best["created_at"] < question.created_at.isoformat()
    # Nothing from after the question is offered.
    assert all(o["created_at"] < question.created_at.isoformat() for o in offered)

    missing = await demo.api.get("/api/v1/mentions/999999/earlier-answers", headers=demo.headers)
    assert missing.status_code == 404


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as client:
        yield client


async def test_an_answer_sent_through_the_outbox_is_offered_with_what_followed(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: httpx.AsyncClient,
    guarded: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    reader = await make_staff()
    with LoopbackServer("127.0.0.1") as server:
        fake = FakeMastodon(server)
        source_id = await mastodon_source(sessions, settings, fake)
        asked = fake.add_status(
            "Can I unlock a Fietsbaan bike with my Apple Watch?", acct="kees@mastodon.example"
        )
        first = await hear_status(sessions, source_id, asked, minutes_ago=300)
        unrelated = fake.add_status(
            "Lovely sunny ride along the Vecht today", acct="mila@mastodon.example"
        )
        await hear_status(sessions, source_id, unrelated, minutes_ago=290)
        mod = await staff(sessions, "mod")
        async with sessions() as session, session.begin():
            draft = await outbox.create_reply(
                session,
                mention_id=first,
                body="Not yet: Apple Watch unlocking comes with app 4.3 in January.",
                actor=mod,
            )
            await outbox.schedule(
                session, outbox_id=draft.id, version=draft.version, actor=mod, settings=settings
            )
        sent = await deliver(sessions, outbox_id=draft.id, settings=settings, client=guarded)
        assert sent.status == "sent"
        async with sessions() as session:
            our_reply = await session.get(OutboxMessage, draft.id)
            assert our_reply is not None and our_reply.external_id
        # Kees answers our reply in his thread.
        thanks = {
            "platform": "mastodon",
            "external_id": "https://mastodon.example/users/kees/statuses/thanks",
            "text": "Thanks, I'll wait for 4.3 then",
            "language": "en",
            "created_at": utcnow().isoformat(),
            "reply_to_external_id": our_reply.external_id,
            "thread_external_id": asked["uri"],
            "author": {
                "platform_id": asked["account"]["uri"],
                "handle": "@kees@mastodon.example",
            },
        }
        async with sessions() as session, session.begin():
            await ingest_mentions(session, [thanks], source_id=source_id)
        again = fake.add_status(
            "Does the Fietsbaan app unlock bikes from an Apple Watch?",
            acct="ravi@mastodon.example",
        )
        second = await hear_status(sessions, source_id, again, minutes_ago=0)

    answer = await client.get(f"/api/v1/mentions/{second}/earlier-answers", headers=reader.headers)
    assert answer.status_code == 200, answer.text
    offered = answer.json()
    assert [o["mention_id"] for o in offered] == [first]
    assert offered[0]["answers"][0]["kind"] == "reply"
    assert offered[0]["answers"][0]["text"].startswith("Not yet: Apple Watch unlocking")
    assert [f["text"] for f in offered[0]["follow_ups"]] == ["Thanks, I'll wait for 4.3 then"]
    assert {"apple", "watch", "unlock"} <= set(offered[0]["shared_terms"])

    # The first question itself had nothing before it to learn from.
    none_before = await client.get(
        f"/api/v1/mentions/{first}/earlier-answers", headers=reader.headers
    )
    assert none_before.status_code == 200 and none_before.json() == []

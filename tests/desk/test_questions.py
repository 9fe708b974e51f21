"""The questions screen: ask the community (a new post or a follow-up), watch answers arrive."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, OutboxMessage, Question, QuestionAnswer, Role
from listener.settings import Settings
from tests.connectors.fake_platforms import FakeMastodon
from tests.desk.conftest import SignIn
from tests.desk.conversation_setup import SCRIPT, assert_inert, hear, loopback_mastodon


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with loopback_mastodon() as fake:
        yield fake


async def test_asking_a_source_posts_the_question_and_answers_show_with_their_summary(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon, "The map is great now")
    desk = await desk_sign_in(Role.MODERATOR)
    page = await desk.client.get("/questions")
    assert "No questions asked yet." in page.text
    assert f'<option value="{heard.source_id}">mastodon-org (mastodon)</option>' in page.text

    asked = await desk.client.post(
        "/questions",
        data={"body": "What should we build next?", "source_id": str(heard.source_id)},
        headers=desk.headers,
    )

    assert asked.status_code == 200
    location = asked.headers["HX-Location"]
    question_id = int(location.rsplit("/", 1)[1])
    async with sessions() as session:
        post = (await session.execute(select(OutboxMessage))).scalar_one()
    assert post.kind == "post" and post.status == "scheduled"
    view = await desk.client.get(location)
    assert "What should we build next?" in view.text
    assert "No answers yet" in view.text

    # An answer arrives (the follow-up job links it; here, directly) and the summary counts it.
    async with sessions() as session, session.begin():
        await session.execute(
            update(Mention)
            .where(Mention.id == heard.mention_id)
            .values(sentiment_label="positive", text=f"Offline maps please {SCRIPT}")
        )
        session.add(QuestionAnswer(question_id=question_id, mention_id=heard.mention_id))
    answers = await desk.client.get(f"/questions/{question_id}/answers")
    assert "1 answers · 1 unread" in answers.text
    assert "positive: 1" in answers.text
    assert "Offline maps please" in answers.text
    assert_inert(answers.text)
    assert 'hx-trigger="live-question-answered from:body' in answers.text

    read = await desk.client.post(f"/questions/{question_id}/read", headers=desk.headers)
    assert "0 unread" in read.text
    listing = await desk.client.get("/questions")
    assert re.search(r"What should we build next\?</a>", listing.text)


async def test_a_follow_up_question_goes_under_a_mention(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    form = await desk.client.get("/questions", params={"mention_id": heard.mention_id})
    assert "A follow-up question under: My rides get lost" in form.text

    asked = await desk.client.post(
        "/questions",
        data={"body": "Which phone do you use?", "mention_id": str(heard.mention_id)},
        headers=desk.headers,
    )
    assert "HX-Location" in asked.headers
    async with sessions() as session:
        question = (await session.execute(select(Question))).scalar_one()
        post = (await session.execute(select(OutboxMessage))).scalar_one()
    assert question.mention_id == heard.mention_id
    assert post.kind == "reply" and post.mention_id == heard.mention_id

    neither = await desk.client.post("/questions", data={"body": "?"}, headers=desk.headers)
    assert 400 <= neither.status_code < 500
    assert "Choose where to ask" in neither.text


async def test_an_analyst_reads_questions_but_cannot_ask(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    petra = await desk_sign_in(Role.ANALYST)
    page = await petra.client.get("/questions")
    assert page.status_code == 200
    assert 'id="ask"' not in page.text and 'hx-post="/questions"' not in page.text
    forged = await petra.client.post(
        "/questions",
        data={"body": "Sneaky?", "source_id": str(heard.source_id)},
        headers=petra.headers,
    )
    assert forged.status_code == 403
    async with sessions() as session:
        assert (await session.execute(select(Question))).first() is None
    missing = await petra.client.get("/questions/424242")
    assert missing.status_code == 404

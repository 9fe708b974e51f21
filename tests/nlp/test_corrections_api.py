"""Staff correct a mention's tags through the API; the model's output is kept beside it."""

from __future__ import annotations

from typing import get_args

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Role
from listener.nlp.labels import INTENTS, SENTIMENT_LABELS
from listener.nlp.schemas import Intent, SentimentLabel
from tests.conftest import MakeStaff
from tests.nlp.db_helpers import add_topic, ingest_texts, topics_of

Sessions = async_sessionmaker[AsyncSession]


async def _praise(sessions: Sessions) -> int:
    [mid] = await ingest_texts(sessions, ["Love the new parcel lockers, thanks!"])
    return mid


async def test_moderator_corrects_sentiment_and_the_mention_shows_it(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    mid = await _praise(sessions)
    moderator = await make_staff(Role.MODERATOR)
    answer = await client.post(
        f"/api/v1/mentions/{mid}/corrections",
        json={"field": "sentiment", "label": "negative"},
        headers=moderator.headers,
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["correction"]["model_value"]["label"] == "positive"
    assert body["correction"]["value"] == {"label": "negative", "score": -0.5}
    assert body["correction"]["user_id"] == moderator.id
    detail = (await client.get(f"/api/v1/mentions/{mid}", headers=moderator.headers)).json()
    assert detail["sentiment"] == {"label": "negative", "score": -0.5}
    [entry] = [e for e in detail["history"] if e["action"] == "nlp.correct"]
    assert entry["actor_user_id"] == moderator.id
    assert entry["before"]["sentiment"]["label"] == "positive"


async def test_a_second_correction_still_keeps_what_the_model_said(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    mid = await _praise(sessions)
    moderator = await make_staff(Role.MODERATOR)
    for label in ("negative", "neutral"):
        await client.post(
            f"/api/v1/mentions/{mid}/corrections",
            json={"field": "sentiment", "label": label},
            headers=moderator.headers,
        )
    listed = await client.get(f"/api/v1/mentions/{mid}/corrections", headers=moderator.headers)
    assert [c["value"]["label"] for c in listed.json()] == ["neutral", "negative"]
    assert {c["model_value"]["label"] for c in listed.json()} == {"positive"}


async def test_confirming_the_models_label_keeps_its_score(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    mid = await _praise(sessions)
    moderator = await make_staff(Role.MODERATOR)
    answer = await client.post(
        f"/api/v1/mentions/{mid}/corrections",
        json={"field": "sentiment", "label": "positive"},
        headers=moderator.headers,
    )
    correction = answer.json()["correction"]
    assert correction["value"]["score"] == correction["model_value"]["score"] > 0


async def test_intents_correction_replaces_the_intents(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    mid = await _praise(sessions)
    moderator = await make_staff(Role.MODERATOR)
    answer = await client.post(
        f"/api/v1/mentions/{mid}/corrections",
        json={"field": "intents", "intents": ["spam", "question", "spam"]},
        headers=moderator.headers,
    )
    assert answer.json()["mention"]["intents"] == ["question", "spam"]
    assert answer.json()["correction"]["model_value"] == ["praise"]


async def test_topics_correction_links_exactly_those_topics_keeping_matched_spans(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    await add_topic(sessions, "delivery", {"en": ["parcel"]})
    await add_topic(sessions, "pricing", {"en": ["price"]})
    await add_topic(sessions, "service", {"en": ["helpdesk"]})
    [mid] = await ingest_texts(sessions, ["The parcel price and the helpdesk"])
    moderator = await make_staff(Role.MODERATOR)
    answer = await client.post(
        f"/api/v1/mentions/{mid}/corrections",
        json={"field": "topics", "topics": ["delivery", "service"]},
        headers=moderator.headers,
    )
    assert answer.json()["mention"]["topics"] == ["delivery", "service"]
    assert answer.json()["correction"]["model_value"] == ["delivery", "pricing", "service"]
    linked = await topics_of(sessions, mid)
    assert linked["delivery"] == [{"start": 4, "end": 10, "text": "parcel"}]
    assert set(linked) == {"delivery", "service"}


async def test_unknown_topics_are_a_bad_request_and_unknown_labels_invalid(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    mid = await _praise(sessions)
    moderator = await make_staff(Role.MODERATOR)
    path = f"/api/v1/mentions/{mid}/corrections"
    unknown = await client.post(
        path, json={"field": "topics", "topics": ["weather"]}, headers=moderator.headers
    )
    assert unknown.status_code == 400
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "weather" in unknown.json()["detail"]
    invalid = await client.post(
        path, json={"field": "sentiment", "label": "furious"}, headers=moderator.headers
    )
    assert invalid.status_code == 422
    assert (await client.get(path, headers=moderator.headers)).json() == []


async def test_analyst_may_read_corrections_but_not_make_them(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    mid = await _praise(sessions)
    analyst = await make_staff(Role.ANALYST)
    path = f"/api/v1/mentions/{mid}/corrections"
    denied = await client.post(
        path, json={"field": "sentiment", "label": "negative"}, headers=analyst.headers
    )
    assert denied.status_code == 403
    assert (await client.get(path, headers=analyst.headers)).json() == []
    assert (await client.get(path)).status_code == 401


async def test_correcting_a_mention_that_does_not_exist_is_404(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    moderator = await make_staff(Role.MODERATOR)
    answer = await client.post(
        "/api/v1/mentions/999/corrections",
        json={"field": "sentiment", "label": "negative"},
        headers=moderator.headers,
    )
    assert answer.status_code == 404


def test_the_api_accepts_exactly_the_labels_the_tagger_gives() -> None:
    assert set(get_args(Intent)) == set(INTENTS)
    assert set(get_args(SentimentLabel)) == set(SENTIMENT_LABELS)

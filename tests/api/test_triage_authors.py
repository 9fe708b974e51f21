"""Authors across platforms: link and unlink identities, one history, response times."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, Role
from listener.sources.ingest import ingest_mentions
from tests.conftest import MakeStaff, Staff
from tests.factories import mention


@pytest.fixture
async def anna(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="anna")


@pytest.fixture
async def people(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """The same person on Mastodon (two negative posts) and Bluesky (one neutral), a stranger."""
    items = [
        mention(1),
        mention(8),
        mention(
            20,
            platform="bluesky",
            source="bsky",
            external_id="at://did:plc:u1/app.bsky.feed.post/1",
            author={"platform_id": "did:plc:u1", "handle": "u1.bsky.social"},
        ),
        mention(2),
    ]
    async with sessions() as session, session.begin():
        # Sentiment is set by hand below; the tagger would score the third post too.
        ids = (await ingest_mentions(session, items, tag=False)).new_mention_ids
        await session.execute(
            update(Mention)
            .where(Mention.id.in_(ids[:2]))
            .values(sentiment_label="negative", sentiment_score=-0.6)
        )
        await session.execute(
            update(Mention)
            .where(Mention.id == ids[2])
            .values(sentiment_label="neutral", sentiment_score=0.0)
        )
        authors = dict((await session.execute(select(Mention.id, Mention.author_id))).all())
    return {
        "mastodon": authors[ids[0]],
        "bluesky": authors[ids[2]],
        "stranger": authors[ids[3]],
        "first_post": ids[0],
    }


async def test_linking_two_records_gives_one_history_across_platforms(
    client: httpx.AsyncClient, anna: Staff, people: dict[str, int]
) -> None:
    linked = await client.post(
        f"/api/v1/authors/{people['mastodon']}/links",
        json={"other_author_id": people["bluesky"], "note": "same avatar and bio link"},
        headers=anna.headers,
    )
    assert linked.status_code == 201
    profile = linked.json()
    assert sorted(a["platform"] for a in profile["identities"]) == ["bluesky", "mastodon"]
    assert (profile["mentions"], profile["platforms"]) == (3, {"mastodon": 2, "bluesky": 1})
    (week,) = profile["sentiment"]
    assert (week["mentions"], week["negative"], week["neutral"], week["average"]) == (3, 2, 1, -0.4)

    from_bluesky = await client.get(
        f"/api/v1/authors/{people['bluesky']}/mentions", headers=anna.headers
    )
    assert len(from_bluesky.json()["items"]) == 3
    again = await client.post(
        f"/api/v1/authors/{people['bluesky']}/links",
        json={"other_author_id": people["mastodon"]},
        headers=anna.headers,
    )
    assert again.status_code == 409

    unlinked = await client.delete(
        f"/api/v1/authors/{people['mastodon']}/links/{people['bluesky']}", headers=anna.headers
    )
    assert unlinked.json()["mentions"] == 2
    assert len(unlinked.json()["identities"]) == 1


async def test_the_profile_shows_the_team_s_answers_how_quickly_and_notes(
    client: httpx.AsyncClient, anna: Staff, people: dict[str, int]
) -> None:
    answered = await client.post(
        f"/api/v1/mentions/{people['first_post']}/external-answers",
        json={"url": "https://help.example/t/1", "note": "answered on the forum"},
        headers=anna.headers,
    )
    assert answered.status_code in (200, 201), answered.text
    await client.post(
        f"/api/v1/authors/{people['mastodon']}/notes",
        json={"body": "Regular; prefers Dutch"},
        headers=anna.headers,
    )

    profile = (
        await client.get(f"/api/v1/authors/{people['mastodon']}", headers=anna.headers)
    ).json()

    speed = profile["responsiveness"]
    # One clock (issue 12): the post was written days before Luister heard it, so it is
    # "heard late" and holds no SLA to meet (it used to get a fresh deadline: sla_met 1).
    assert (speed["answered"], speed["waiting"], speed["sla_met"]) == (1, 1, 0)
    assert speed["median_minutes"] is not None and speed["median_minutes"] < 5
    (reply,) = profile["replies"]
    assert (reply["mention_id"], reply["kind"], reply["url"]) == (
        people["first_post"],
        "external",
        "https://help.example/t/1",
    )
    assert [(n["username"], n["body"]) for n in profile["notes"]] == [
        ("anna", "Regular; prefers Dutch")
    ]


async def test_analysts_read_profiles_but_cannot_link(
    client: httpx.AsyncClient, make_staff: MakeStaff, people: dict[str, int]
) -> None:
    analyst = await make_staff(Role.ANALYST)
    assert (
        await client.get(f"/api/v1/authors/{people['stranger']}", headers=analyst.headers)
    ).status_code == 200
    refused = await client.post(
        f"/api/v1/authors/{people['stranger']}/links",
        json={"other_author_id": people["mastodon"]},
        headers=analyst.headers,
    )
    assert refused.status_code == 403
    assert (await client.get("/api/v1/authors/999999", headers=analyst.headers)).status_code == 404

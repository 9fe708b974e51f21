"""Share of voice: our brand against two competitors, checked against numbers worked by hand."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from api.cli.main import app
from listener.models import Mention, Role
from listener.settings import get_settings
from listener.sources.ingest import ingest_mentions
from tests.conftest import TEST_SECRET, MakeStaff, Staff
from tests.factories import mention

PEOPLE = {"a": 1000, "b": 200, "c": 50, "d": None}
# text, author, sentiment, day of November 2026 (weeks start Monday the 16th and the 23rd)
POSTS = [
    ("Fietsbaan app crasht weer", "a", "negative", 16),
    ("fietsbaan is top", "b", "positive", 18),
    ("Velomax is duur", "c", "negative", 20),
    ("Fietsbaan beter dan Velomax", "a", "neutral", 22),
    ("De Groene Fiets komt naar Utrecht", "d", "positive", 23),
    ("Velomax storing", "c", "negative", 25),
    ("FIETSBAAN werkt weer", "b", "positive", 29),
    ("Niets over fietsen", "a", "neutral", 24),
]


def _post(n: int, text: str, who: str, day: int) -> dict[str, Any]:
    author = {"platform_id": who, "handle": f"@{who}@mastodon.example"}
    if PEOPLE[who] is not None:
        author["followers"] = PEOPLE[who]
    created = datetime(2026, 11, day, 12, tzinfo=UTC).isoformat()
    return mention(n, text=text, language="nl", author=author, created_at=created)


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ADMIN)


@pytest.fixture
async def stored(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        report = await ingest_mentions(
            session, [_post(n, text, who, day) for n, (text, who, _, day) in enumerate(POSTS)]
        )
        for mention_id, (_, _, sentiment, _) in zip(report.new_mention_ids, POSTS, strict=True):
            await session.execute(
                update(Mention).where(Mention.id == mention_id).values(sentiment_label=sentiment)
            )


async def _subjects(client: httpx.AsyncClient, admin: Staff) -> None:
    for name, query, kind in [
        ("Fietsbaan", "fietsbaan*", "brand"),
        ("Velomax", "velomax", "competitor"),
        ("Groene Fiets", '"groene fiets"', "competitor"),
    ]:
        made = await client.post(
            "/api/v1/share-of-voice/subjects",
            json={"name": name, "query": query, "kind": kind},
            headers=admin.headers,
        )
        assert made.status_code == 201, made.text


def _numbers(voices: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {
        v["name"]: (
            v["mentions"],
            v["positive"],
            v["neutral"],
            v["negative"],
            v["net_sentiment"],
            v["reach"],
            v["share"],
            v["reach_share"],
        )
        for v in voices
    }


async def test_share_of_voice_per_week_matches_the_hand_worked_numbers(
    client: httpx.AsyncClient, admin: Staff, stored: None
) -> None:
    await _subjects(client, admin)
    answer = await client.get(
        "/api/v1/share-of-voice",
        params={"since": "2026-11-16T00:00:00Z", "until": "2026-11-30T00:00:00Z"},
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [s["name"] for s in found["subjects"]] == ["Fietsbaan", "Groene Fiets", "Velomax"]
    # Fietsbaan: posts 1, 2, 4, 7 (2 positive, 1 neutral, 1 negative), authors a + b.
    # Velomax: posts 3, 4, 6 (1 neutral, 2 negative), authors c + a. Groene Fiets: post 5, d.
    # Post 4 names both and counts for both: 8 subject mentions, 2,250 followers in all.
    assert _numbers(found["totals"]) == {
        "Fietsbaan": (4, 2, 1, 1, 0.25, 1200, 0.5, 0.5333),
        "Velomax": (3, 0, 1, 2, -0.6667, 1050, 0.375, 0.4667),
        "Groene Fiets": (1, 1, 0, 0, 1.0, 0, 0.125, 0.0),
    }
    assert [b["start"] for b in found["buckets"]] == ["2026-11-16", "2026-11-23"]
    first, second = (_numbers(b["subjects"]) for b in found["buckets"])
    assert first == {
        "Fietsbaan": (3, 1, 1, 1, 0.0, 1200, 0.6, 0.5333),
        "Velomax": (2, 0, 1, 1, -0.5, 1050, 0.4, 0.4667),
        "Groene Fiets": (0, 0, 0, 0, None, 0, 0.0, 0.0),
    }
    assert second == {
        "Fietsbaan": (1, 1, 0, 0, 1.0, 200, 0.3333, 0.8),
        "Velomax": (1, 0, 0, 1, -1.0, 50, 0.3333, 0.2),
        "Groene Fiets": (1, 1, 0, 0, 1.0, 0, 0.3333, 0.0),
    }


async def test_share_of_voice_per_day_and_for_chosen_subjects(
    client: httpx.AsyncClient, admin: Staff, stored: None
) -> None:
    await _subjects(client, admin)
    answer = await client.get(
        "/api/v1/share-of-voice",
        params={
            "period": "day",
            "since": "2026-11-16T00:00:00Z",
            "until": "2026-11-30T00:00:00Z",
            "subject": ["Velomax", "Fietsbaan"],
        },
        headers=admin.headers,
    )
    assert answer.status_code == 200, answer.text
    buckets = {b["start"]: _numbers(b["subjects"]) for b in answer.json()["buckets"]}
    assert len(buckets) == 14
    assert buckets["2026-11-22"] == {
        "Velomax": (1, 0, 1, 0, 0.0, 1000, 0.5, 0.5),
        "Fietsbaan": (1, 0, 1, 0, 0.0, 1000, 0.5, 0.5),
    }
    assert buckets["2026-11-17"]["Velomax"][0] == 0
    unknown = await client.get(
        "/api/v1/share-of-voice", params={"subject": "Nobody"}, headers=admin.headers
    )
    assert unknown.status_code == 404


async def test_a_subject_whose_query_cannot_be_read_is_a_422_naming_the_column(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    answer = await client.post(
        "/api/v1/share-of-voice/subjects",
        json={"name": "Velomax", "query": "velomax OR"},
        headers=admin.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["column"] == 11
    assert answer.json()["detail"].startswith("query: column 11: expected a word")


async def test_the_cli_adds_subjects_and_shows_the_share(
    database_url: str, stored: None, tmp_path: Path
) -> None:
    env = {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_DATA_DIR": str(tmp_path / "data"),
        "LUISTER_SECRET_KEY": TEST_SECRET,
        "LUISTER_REDIS_URL": "",
    }

    def luister(*args: str) -> Result:
        get_settings.cache_clear()  # the process reads its settings once; this env is new
        try:
            return CliRunner().invoke(app, list(args), env=env)
        finally:
            get_settings.cache_clear()

    refused = await asyncio.to_thread(luister, "voice", "subjects", "add", "X", "velomax OR")
    assert refused.exit_code == 2
    assert "QUERY: column 11: expected a word" in refused.output
    for name, query in [("Fietsbaan", "fietsbaan*"), ("Velomax", "velomax")]:
        added = await asyncio.to_thread(luister, "voice", "subjects", "add", name, query)
        assert added.exit_code == 0, added.output
    shown = await asyncio.to_thread(
        luister,
        "voice", "show", "--json", "--since", "2026-11-16T00:00:00+00:00",
        "--until", "2026-11-30T00:00:00+00:00",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    totals = {v["name"]: (v["mentions"], v["share"]) for v in json.loads(shown.stdout)["totals"]}
    # Without Groene Fiets: Fietsbaan 4 and Velomax 3 of 7 subject mentions.
    assert totals == {"Fietsbaan": (4, 0.5714), "Velomax": (3, 0.4286)}

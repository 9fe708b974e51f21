"""Triage one mention over the API: claims, presence, snooze, escalate, tags, SLA filters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import QueueItem, Role, utcnow
from listener.sources.ingest import ingest_mentions
from tests.conftest import MakeStaff, Staff
from tests.factories import mention

PROBLEM = "application/problem+json"


@pytest.fixture
async def anna(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="anna")


@pytest.fixture
async def bram(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="bram")


async def _store(sessions: async_sessionmaker[AsyncSession], *items: dict) -> list[int]:
    async with sessions() as session, session.begin():
        return (await ingest_mentions(session, list(items))).new_mention_ids


def _recent(n: int, **overrides: object) -> dict:
    return mention(
        n, created_at=(datetime.now(UTC) - timedelta(minutes=n)).isoformat(), **overrides
    )


async def test_priority_sorted_queue_explains_each_score(
    client: httpx.AsyncClient, anna: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _store(
        sessions,
        _recent(1, text="Lovely ride this morning"),
        _recent(
            2,
            text="Is the app down? Payments are broken",
            author={"platform_id": "big", "handle": "@big", "followers": 48_000},
        ),
    )

    page = await client.get("/api/v1/mentions", params={"sort": "priority"}, headers=anna.headers)

    first, second = page.json()["items"]
    assert first["text"].startswith("Is the app down")
    assert first["queue"]["priority"] > second["queue"]["priority"]
    explain = first["priority_explain"]
    assert explain["score"] == first["queue"]["priority"]
    assert "author with 48k followers" in explain["reason"]
    assert 'urgent words: "broken", "down"' in explain["reason"]
    assert {f["name"] for f in explain["factors"]} >= {"intent", "reach", "keywords", "sla"}
    assert first["queue"]["sla"] == "on_track" and first["queue"]["due_at"] is not None


async def test_two_moderators_claiming_the_same_mention_one_wins_one_gets_409(
    client: httpx.AsyncClient, anna: Staff, bram: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _store(sessions, _recent(1))
    url = f"/api/v1/mentions/{mention_id}/claim"

    answers = await asyncio.gather(
        client.post(url, json={}, headers=anna.headers),
        client.post(url, json={}, headers=bram.headers),
    )

    assert sorted(r.status_code for r in answers) == [200, 409]
    won = next(r for r in answers if r.status_code == 200).json()
    lost = next(r for r in answers if r.status_code == 409)
    assert lost.headers["content-type"] == PROBLEM
    assert lost.json()["claim"]["username"] == won["username"]
    shown = await client.get(f"/api/v1/mentions/{mention_id}", headers=anna.headers)
    assert shown.json()["queue"]["claimed_by"] == won["user_id"]


async def test_claims_expire_renew_and_block_others_writes_until_released(
    client: httpx.AsyncClient,
    anna: Staff,
    bram: Staff,
    make_staff: MakeStaff,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    (mention_id,) = await _store(sessions, _recent(1))
    url = f"/api/v1/mentions/{mention_id}"
    claimed = await client.post(f"{url}/claim", json={"minutes": 5}, headers=anna.headers)
    renewed = await client.post(f"{url}/claim", json={"minutes": 15}, headers=anna.headers)
    assert renewed.json()["expires_at"] > claimed.json()["expires_at"]

    blocked = await client.post(
        f"{url}/status", json={"status": "spam", "version": 1}, headers=bram.headers
    )
    assert blocked.status_code == 409
    assert blocked.json()["type"] == "urn:luister:problem:claimed"
    not_admin = await client.post(
        f"{url}/status", json={"status": "spam", "version": 1, "force": True}, headers=bram.headers
    )
    assert not_admin.status_code == 403
    admin = await make_staff(Role.ADMIN)
    forced = await client.post(
        f"{url}/tags", json={"add": ["vip"], "version": 1, "force": True}, headers=admin.headers
    )
    assert forced.status_code == 200

    async with sessions() as session, session.begin():
        await session.execute(
            update(QueueItem)
            .where(QueueItem.mention_id == mention_id)
            .values(claim_expires_at=utcnow() - timedelta(seconds=1))
        )
    taken = await client.post(f"{url}/claim", headers=bram.headers)  # no body: the default lease
    assert taken.status_code == 200 and taken.json()["username"] == "bram"
    released = await client.delete(f"{url}/claim", headers=bram.headers)
    assert released.json()["user_id"] is None


async def test_who_is_viewing_shows_live_heartbeats_only(
    client: httpx.AsyncClient, anna: Staff, bram: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _store(sessions, _recent(1))
    url = f"/api/v1/mentions/{mention_id}/presence"
    await client.put(url, headers=anna.headers)
    both = await client.put(url, headers=bram.headers)
    assert [v["username"] for v in both.json()["viewers"]] == ["anna", "bram"]

    await client.delete(url, headers=bram.headers)
    left = await client.get(url, headers=anna.headers)
    assert [v["username"] for v in left.json()["viewers"]] == ["anna"]


async def test_snooze_until_the_author_writes_again_over_the_api(
    client: httpx.AsyncClient, anna: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _store(sessions, _recent(1))
    snoozed = await client.post(
        f"/api/v1/mentions/{mention_id}/snooze",
        json={"until_author_writes": True, "reason": "asked for their order number"},
        headers=anna.headers | {"If-Match": '"1"'},
    )
    assert snoozed.status_code == 200
    assert snoozed.json()["status"] == "snoozed" and snoozed.json()["snooze_until_author"]

    await _store(sessions, _recent(8))  # same author (u1)

    woke = (await client.get(f"/api/v1/mentions/{mention_id}", headers=anna.headers)).json()
    assert woke["queue"]["status"] == "open"
    assert woke["history"][-1]["action"] == "wake"


async def test_escalate_needs_a_reason_and_reopen_brings_it_back(
    client: httpx.AsyncClient, anna: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _store(sessions, _recent(1))
    url = f"/api/v1/mentions/{mention_id}"
    missing = await client.post(f"{url}/escalate", json={"version": 1}, headers=anna.headers)
    assert missing.status_code == 422
    up = await client.post(
        f"{url}/escalate", json={"version": 1, "reason": "press enquiry"}, headers=anna.headers
    )
    assert (up.json()["status"], up.json()["status_reason"]) == ("escalated", "press enquiry")
    back = await client.post(f"{url}/reopen", json={"version": 2}, headers=anna.headers)
    assert back.json()["status"] == "open"
    twice = await client.post(f"{url}/reopen", json={"version": 3}, headers=anna.headers)
    assert twice.status_code == 409 and "allowed" in twice.json()


async def test_breached_and_due_soon_filters_follow_the_sla(
    client: httpx.AsyncClient, anna: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    late, soon, later, answered = await _store(sessions, *(_recent(n) for n in range(1, 5)))
    now = utcnow()
    async with sessions() as session, session.begin():
        for mention_id, due in ((late, -10), (soon, 20), (later, 300), (answered, -10)):
            await session.execute(
                update(QueueItem)
                .where(QueueItem.mention_id == mention_id)
                .values(due_at=now + timedelta(minutes=due))
            )
    answer = await client.post(
        f"/api/v1/mentions/{answered}/status",
        json={"status": "answered", "version": 1},
        headers=anna.headers,
    )
    assert answer.json()["sla"] == "missed"

    async def ids(params: dict[str, str]) -> list[int]:
        page = await client.get("/api/v1/mentions", params=params, headers=anna.headers)
        return [m["id"] for m in page.json()["items"]]

    assert await ids({"breached": "true"}) == [late]
    assert await ids({"due_within_minutes": "30"}) == [soon]


async def test_tags_are_free_labels_with_counts(
    client: httpx.AsyncClient, anna: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await _store(sessions, _recent(1), _recent(2))
    for mention_id in (first, second):
        tagged = await client.post(
            f"/api/v1/mentions/{mention_id}/tags",
            json={"add": ["Outage ", "billing"], "version": 1},
            headers=anna.headers,
        )
        assert tagged.json()["tags"] == ["billing", "outage"]
    await client.post(
        f"/api/v1/mentions/{first}/tags",
        json={"remove": ["billing"], "version": 2},
        headers=anna.headers,
    )
    counts = await client.get("/api/v1/tags", headers=anna.headers)
    assert counts.json() == [{"name": "outage", "mentions": 2}, {"name": "billing", "mentions": 1}]
    listed = await client.get("/api/v1/mentions", params={"tag": "billing"}, headers=anna.headers)
    assert [(m["id"], m["tags"]) for m in listed.json()["items"]] == [
        (second, ["billing", "outage"])
    ]


async def test_notes_with_at_mentions_reach_the_colleague(
    client: httpx.AsyncClient, anna: Staff, bram: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _store(sessions, _recent(1))
    await client.post(
        f"/api/v1/mentions/{mention_id}/notes",
        json={"body": "@bram can you take this? (@nobody will not be notified)", "version": 1},
        headers=anna.headers,
    )
    inbox = await client.get("/api/v1/notes/mentioning-me", headers=bram.headers)
    (call_in,) = inbox.json()["items"]
    assert (call_in["mention_id"], call_in["written_by"]) == (mention_id, "anna")
    assert (await client.get("/api/v1/notes/mentioning-me", headers=anna.headers)).json()[
        "items"
    ] == []

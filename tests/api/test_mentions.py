"""The queue API: list with filters and cursors, read one mention, triage with versions."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Role
from listener.sources.ingest import ingest_mentions
from tests.conftest import MakeStaff, Staff
from tests.factories import mention

PROBLEM = "application/problem+json"


@pytest.fixture
async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """25 English Mastodon posts, 5 Dutch Reddit ones and a three-post thread."""
    items = [mention(i) for i in range(25)]
    items += [
        mention(
            100 + i,
            platform="reddit",
            source="reddit-utrecht",
            external_id=f"t3_nl{i}",
            language="nl",
            text=f"Waarom werkt de app niet? nummer {i}",
            author=None,
        )
        for i in range(5)
    ]
    items += [
        mention(200, external_id="root", text="Is the app down?"),
        mention(
            201,
            external_id="r1",
            text="Same here",
            reply_to_external_id="root",
            thread_external_id="root",
        ),
        mention(
            202,
            external_id="r2",
            text="Back now",
            reply_to_external_id="r1",
            thread_external_id="root",
        ),
    ]
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items)
    return report.new_mention_ids


@pytest.fixture
async def moderator(make_staff: MakeStaff) -> Staff:
    """A moderator with a triage token."""
    return await make_staff(Role.MODERATOR, username="mod")


async def _all_pages(client: httpx.AsyncClient, staff: Staff, params: dict[str, str]) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        page = (await client.get("/api/v1/mentions", params=query, headers=staff.headers)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_cursor_pagination_visits_every_mention_once_newest_first(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    items = await _all_pages(client, moderator, {"limit": "7"})
    ids = [i["id"] for i in items]
    assert sorted(ids) == sorted(stored)
    created = [i["created_at"] for i in items]
    assert created == sorted(created, reverse=True)


async def test_limit_is_capped(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    client_app = client._transport.app  # type: ignore[attr-defined]
    client_app.state.settings.page_size_max = 10
    page = (await client.get("/api/v1/mentions?limit=500", headers=moderator.headers)).json()
    assert len(page["items"]) == 10


async def test_filters_narrow_the_list(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    dutch = await _all_pages(client, moderator, {"language": "nl"})
    assert len(dutch) == 5 and {i["platform"] for i in dutch} == {"reddit"}
    found = await _all_pages(client, moderator, {"q": "APP DOWN"})
    assert [i["text"] for i in found] == ["Is the app down?"]
    on_reddit = await _all_pages(client, moderator, {"platform": "reddit", "q": "nummer 3"})
    assert len(on_reddit) == 1
    window = await _all_pages(
        client,
        moderator,
        {"since": "2026-11-20T09:10:00Z", "until": "2026-11-20T09:15:00Z"},
    )
    assert len(window) == 5


async def test_a_cursor_from_elsewhere_is_a_clear_400(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    response = await client.get("/api/v1/mentions?cursor=garbage", headers=moderator.headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "cursor" in response.json()["detail"]


async def test_priority_sort_puts_higher_priority_first(
    client: httpx.AsyncClient,
    moderator: Staff,
    stored: list[int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from sqlalchemy import update

    from listener.models import QueueItem

    async with sessions() as session, session.begin():
        await session.execute(
            update(QueueItem).where(QueueItem.mention_id == stored[3]).values(priority=90)
        )
    items = await _all_pages(client, moderator, {"sort": "priority", "limit": "4"})
    assert items[0]["id"] == stored[3]
    assert len(items) == len(stored)


async def test_detail_shows_author_thread_and_sanitised_html(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    listing = await _all_pages(client, moderator, {"q": "Same here"})
    reply_id = listing[0]["id"]
    response = await client.get(f"/api/v1/mentions/{reply_id}", headers=moderator.headers)
    body = response.json()
    assert response.headers["etag"] == '"1"'
    assert body["author"]["handle"].startswith("@u")
    assert {m["text"] for m in body["thread"]} == {"Is the app down?", "Back now"}
    assert 'rel="noopener noreferrer nofollow ugc"' in body["html"]
    assert body["queue"] == {**body["queue"], "status": "new", "version": 1}


async def test_unknown_mention_is_404_problem(client: httpx.AsyncClient, moderator: Staff) -> None:
    response = await client.get("/api/v1/mentions/999999", headers=moderator.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_status_change_is_audited(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    mid = stored[0]
    response = await client.post(
        f"/api/v1/mentions/{mid}/status",
        json={"status": "escalated", "version": 1, "reason": "legal question"},
        headers=moderator.headers,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "escalated" and response.json()["version"] == 2

    detail = (await client.get(f"/api/v1/mentions/{mid}", headers=moderator.headers)).json()
    [entry] = detail["history"]
    assert entry["action"] == "status"
    assert entry["actor"].startswith("mod ")
    assert entry["before"]["status"] == "new"
    assert entry["after"] == {**entry["after"], "status": "escalated", "reason": "legal question"}


async def test_illegal_transition_is_409_with_the_allowed_ones(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    mid = stored[0]
    await client.post(
        f"/api/v1/mentions/{mid}/status",
        json={"status": "spam", "version": 1},
        headers=moderator.headers,
    )
    response = await client.post(
        f"/api/v1/mentions/{mid}/status",
        json={"status": "answered", "version": 2},
        headers=moderator.headers,
    )
    assert response.status_code == 409
    body = response.json()
    assert body["allowed"] == ["open"]
    assert "spam" in body["detail"] and "answered" in body["detail"]


async def test_stale_version_is_409_with_the_current_state(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    mid = stored[0]
    first = await client.post(
        f"/api/v1/mentions/{mid}/status",
        json={"status": "open", "version": 1},
        headers=moderator.headers,
    )
    assert first.status_code == 200
    stale = await client.post(
        f"/api/v1/mentions/{mid}/status",
        json={"status": "resolved", "version": 1},
        headers=moderator.headers,
    )
    assert stale.status_code == 409
    assert stale.headers["content-type"] == PROBLEM
    assert stale.json()["current"]["status"] == "open"
    assert stale.json()["current"]["version"] == 2


async def test_version_may_come_as_if_match_and_is_required(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    mid = stored[0]
    url = f"/api/v1/mentions/{mid}/status"
    missing = await client.post(url, json={"status": "open"}, headers=moderator.headers)
    assert missing.status_code == 428
    ok = await client.post(
        url, json={"status": "open"}, headers={**moderator.headers, "If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'


async def test_bad_payload_is_422_naming_the_field(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    response = await client.post(
        f"/api/v1/mentions/{stored[0]}/status",
        json={"status": "archived", "version": 1},
        headers=moderator.headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "body.status" in response.json()["detail"]


async def test_assign_and_unassign(
    client: httpx.AsyncClient, moderator: Staff, make_staff: MakeStaff, stored: list[int]
) -> None:
    colleague = await make_staff(Role.MODERATOR, username="colleague")
    url = f"/api/v1/mentions/{stored[0]}/assignment"
    assigned = await client.post(
        url, json={"assignee_id": colleague.id, "version": 1}, headers=moderator.headers
    )
    assert assigned.json()["assignee_id"] == colleague.id
    mine = await _all_pages(client, moderator, {"assignee_id": str(colleague.id)})
    assert [i["id"] for i in mine] == [stored[0]]
    cleared = await client.post(
        url, json={"assignee_id": None, "version": 2}, headers=moderator.headers
    )
    assert cleared.json()["assignee_id"] is None


async def test_cannot_assign_to_an_analyst(
    client: httpx.AsyncClient, moderator: Staff, make_staff: MakeStaff, stored: list[int]
) -> None:
    analyst = await make_staff(Role.ANALYST)
    response = await client.post(
        f"/api/v1/mentions/{stored[0]}/assignment",
        json={"assignee_id": analyst.id, "version": 1},
        headers=moderator.headers,
    )
    assert response.status_code == 400
    assert "analyst" in response.json()["detail"]


async def test_notes_are_kept_and_shown(
    client: httpx.AsyncClient, moderator: Staff, stored: list[int]
) -> None:
    mid = stored[0]
    created = await client.post(
        f"/api/v1/mentions/{mid}/notes",
        json={"body": "Asked support to call back", "version": 1},
        headers=moderator.headers,
    )
    assert created.status_code == 201
    assert created.json()["queue"]["version"] == 2
    detail = (await client.get(f"/api/v1/mentions/{mid}", headers=moderator.headers)).json()
    assert [n["body"] for n in detail["notes"]] == ["Asked support to call back"]
    assert [h["action"] for h in detail["history"]] == ["note"]


async def test_two_moderators_with_the_same_version_one_wins(
    client: httpx.AsyncClient, moderator: Staff, make_staff: MakeStaff, stored: list[int]
) -> None:
    other = await make_staff(Role.MODERATOR, username="other")
    url = f"/api/v1/mentions/{stored[0]}/status"
    responses = await asyncio.gather(
        client.post(url, json={"status": "answered", "version": 1}, headers=moderator.headers),
        client.post(url, json={"status": "spam", "version": 1}, headers=other.headers),
    )
    assert sorted(r.status_code for r in responses) == [200, 409]

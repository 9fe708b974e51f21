"""The sources API: admins add and manage sources; credentials never come back out."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Role
from tests.conftest import MakeStaff, Staff

PROBLEM = "application/problem+json"


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    """An admin with a full token."""
    return await make_staff(Role.ADMIN, username="root")


async def _create(client: httpx.AsyncClient, admin: Staff, **body: object) -> httpx.Response:
    payload = {"kind": "rss", "name": "press", "config": {"url": "https://news.example/feed.xml"}}
    payload.update(body)
    return await client.post("/api/v1/sources", json=payload, headers=admin.headers)


async def test_admin_adds_a_source_and_sees_its_status(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    created = await _create(client, admin)
    assert created.status_code == 201
    body = created.json()
    assert body["kind"] == "rss" and body["enabled"] is True
    assert body["config"]["url"] == "https://news.example/feed.xml"
    assert (body["mentions"], body["consecutive_failures"], body["last_error"]) == (0, 0, None)

    listed = (await client.get("/api/v1/sources", headers=admin.headers)).json()
    assert [s["name"] for s in listed] == ["press"]


async def test_credentials_are_write_only(client: httpx.AsyncClient, admin: Staff) -> None:
    created = await _create(
        client,
        admin,
        kind="mastodon",
        name="masto",
        config={
            "instance_url": "https://mastodon.example",
            "hashtag": "fietsbaan",
            "access_token": "super-secret-token",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["config"]["access_token"] == "********"
    fetched = await client.get(f"/api/v1/sources/{created.json()['id']}", headers=admin.headers)
    assert "super-secret-token" not in fetched.text
    assert "reply" in fetched.json()["write_actions"]


async def test_bad_config_is_422_naming_the_field(client: httpx.AsyncClient, admin: Staff) -> None:
    response = await _create(client, admin, config={"url": "not a url"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert "config: url" in response.json()["detail"]
    unknown = await _create(client, admin, kind="myspace")
    assert unknown.status_code == 422 and "kind" in unknown.json()["detail"]


async def test_duplicate_name_is_refused(client: httpx.AsyncClient, admin: Staff) -> None:
    await _create(client, admin)
    again = await _create(client, admin)
    assert again.status_code == 422 and "exists already" in again.json()["detail"]


async def test_only_admins_manage_sources(
    client: httpx.AsyncClient, admin: Staff, make_staff: MakeStaff
) -> None:
    moderator = await make_staff(Role.MODERATOR)
    denied = await client.post(
        "/api/v1/sources",
        json={"kind": "rss", "name": "x", "config": {"url": "https://news.example/f"}},
        headers=moderator.headers,
    )
    assert denied.status_code == 403
    assert (await client.get("/api/v1/sources", headers=moderator.headers)).status_code == 200


async def test_pause_resume_and_poll_now(client: httpx.AsyncClient, admin: Staff) -> None:
    source_id = (await _create(client, admin)).json()["id"]
    paused = await client.post(
        f"/api/v1/sources/{source_id}/pause", json={"reason": "holiday"}, headers=admin.headers
    )
    assert paused.json()["paused_reason"] == "holiday"
    refused = await client.post(f"/api/v1/sources/{source_id}/poll", headers=admin.headers)
    assert refused.status_code == 409
    resumed = await client.post(f"/api/v1/sources/{source_id}/resume", headers=admin.headers)
    assert resumed.json()["paused_reason"] is None and resumed.json()["enabled"] is True
    polled = await client.post(f"/api/v1/sources/{source_id}/poll", headers=admin.headers)
    assert polled.status_code == 202


async def test_editing_keeps_masked_credentials(client: httpx.AsyncClient, admin: Staff) -> None:
    created = await _create(
        client,
        admin,
        kind="mastodon",
        name="masto",
        config={"instance_url": "https://mastodon.example", "hashtag": "a", "access_token": "tok"},
    )
    source_id = created.json()["id"]
    edited = await client.patch(
        f"/api/v1/sources/{source_id}",
        json={"config": {"hashtag": "b", "access_token": "********"}},
        headers=admin.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["config"]["hashtag"] == "b"
    assert edited.json()["config"]["access_token"] == "********"


async def test_delete_refuses_to_drop_mentions_unless_purged(
    client: httpx.AsyncClient, admin: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from listener.sources.ingest import ingest_mentions
    from tests.factories import mention

    source_id = (await _create(client, admin)).json()["id"]
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [mention(1, platform="rss")], source_id=source_id)
    refused = await client.delete(f"/api/v1/sources/{source_id}", headers=admin.headers)
    assert refused.status_code == 409 and "1 mentions" in refused.json()["detail"]
    purged = await client.delete(f"/api/v1/sources/{source_id}?purge=true", headers=admin.headers)
    assert purged.status_code == 204
    missing = await client.get(f"/api/v1/sources/{source_id}", headers=admin.headers)
    assert missing.status_code == 404


async def test_kinds_describe_every_connector(client: httpx.AsyncClient, admin: Staff) -> None:
    kinds = (await client.get("/api/v1/sources/kinds", headers=admin.headers)).json()
    assert {"rss", "mastodon"} <= {k["kind"] for k in kinds}
    rss = next(k for k in kinds if k["kind"] == "rss")
    assert "url" in rss["config_schema"]["properties"]

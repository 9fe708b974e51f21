"""Saved views (personal and shared, with counts) and the audit log with its CSV export."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, Role
from listener.sources.ingest import ingest_mentions
from tests.conftest import MakeStaff, Staff
from tests.factories import mention


@pytest.fixture
async def anna(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="anna")


@pytest.fixture
async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    """Three Dutch posts (two complaints) and two English ones."""
    items = [
        mention(n, language="nl", platform="reddit", source="r-nl", external_id=f"t3_v{n}")
        for n in range(3)
    ] + [mention(10 + n) for n in range(2)]
    async with sessions() as session, session.begin():
        ids = (await ingest_mentions(session, items)).new_mention_ids
        await session.execute(
            update(Mention).where(Mention.id.in_(ids[:2])).values(intents=["complaint"])
        )
    return ids


async def test_a_saved_view_dutch_complaints_unassigned_is_one_click(
    client: httpx.AsyncClient, anna: Staff, stored: list[int]
) -> None:
    created = await client.post(
        "/api/v1/views",
        json={
            "name": "Dutch complaints, unassigned",
            "filters": {"language": "nl", "intent": "complaint", "unassigned": True},
        },
        headers=anna.headers,
    )
    assert created.status_code == 201
    view = created.json()
    assert (view["count"], view["count_capped"], view["sort"]) == (2, False, "priority")

    page = await client.get("/api/v1/mentions", params={"view": view["id"]}, headers=anna.headers)
    assert sorted(m["id"] for m in page.json()["items"]) == sorted(stored[:2])

    await client.post(
        f"/api/v1/mentions/{stored[0]}/assignment",
        json={"assignee_id": None, "version": 1},
        headers=anna.headers,
    )
    listed = await client.get("/api/v1/views", headers=anna.headers)
    assert [(v["name"], v["count"]) for v in listed.json()] == [("Dutch complaints, unassigned", 2)]


async def test_views_are_private_unless_an_admin_shares_them(
    client: httpx.AsyncClient, anna: Staff, make_staff: MakeStaff, stored: list[int]
) -> None:
    mine = await client.post(
        "/api/v1/views", json={"name": "mine", "filters": {"mine": True}}, headers=anna.headers
    )
    bram = await make_staff(Role.MODERATOR, username="bram")
    assert (
        await client.get(f"/api/v1/views/{mine.json()['id']}", headers=bram.headers)
    ).status_code == 404
    refused = await client.post(
        "/api/v1/views", json={"name": "team", "filters": {}, "shared": True}, headers=anna.headers
    )
    assert refused.status_code == 403

    admin = await make_staff(Role.ADMIN)
    shared = await client.post(
        "/api/v1/views",
        json={"name": "Everything new", "filters": {"status": ["new"]}, "shared": True},
        headers=admin.headers,
    )
    assert shared.status_code == 201
    seen = await client.get("/api/v1/views", headers=bram.headers)
    assert [(v["name"], v["count"]) for v in seen.json()] == [("Everything new", 5)]
    not_hers = await client.patch(
        f"/api/v1/views/{shared.json()['id']}", json={"name": "x"}, headers=anna.headers
    )
    assert not_hers.status_code == 403
    duplicate = await client.post(
        "/api/v1/views", json={"name": "mine", "filters": {}}, headers=anna.headers
    )
    assert duplicate.status_code == 409


async def test_the_audit_log_answers_per_item_per_user_and_exports_csv(
    client: httpx.AsyncClient, anna: Staff, make_staff: MakeStaff, stored: list[int]
) -> None:
    bram = await make_staff(Role.MODERATOR, username="bram")
    await client.post(
        f"/api/v1/mentions/{stored[0]}/status",
        json={"status": "open", "version": 1},
        headers=anna.headers,
    )
    await client.post(
        f"/api/v1/mentions/{stored[1]}/escalate",
        json={"reason": "legal", "version": 1},
        headers=bram.headers,
    )

    per_item = await client.get(
        "/api/v1/audit", params={"mention_id": stored[1]}, headers=anna.headers
    )
    (entry,) = per_item.json()["items"]
    assert (entry["actor_user_id"], entry["action"]) == (bram.id, "escalate")
    assert entry["actor"].startswith("bram")
    assert entry["before"]["status"] == "new" and entry["after"]["status"] == "escalated"
    per_user = await client.get("/api/v1/audit", params={"user_id": bram.id}, headers=anna.headers)
    assert [e["action"] for e in per_user.json()["items"]] == ["escalate"]
    since = entry["created_at"]
    in_range = await client.get("/api/v1/audit", params={"since": since}, headers=anna.headers)
    assert entry["id"] in [e["id"] for e in in_range.json()["items"]]

    exported = await client.get("/api/v1/audit/export.csv", headers=anna.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["actor_user_id"], r["action"]) for r in rows] == [
        (str(anna.id), "status"),
        (str(bram.id), "escalate"),
    ]
    assert json.loads(rows[1]["after"])["reason"] == "legal"

"""Bulk actions over ids or a filter, run as jobs with progress, and an exact undo."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import AuditEntry, BulkJob, QueueItem, Role, utcnow
from listener.sources.ingest import ingest_mentions
from tests.conftest import MakeStaff, Staff
from tests.factories import mention

PROBLEM = "application/problem+json"
SNAPSHOT = (
    QueueItem.mention_id,
    QueueItem.status,
    QueueItem.status_changed_at,
    QueueItem.status_reason,
    QueueItem.assignee_id,
    QueueItem.snoozed_until,
    QueueItem.first_response_at,
    QueueItem.sla_outcome,
)


def reddit(n: int) -> dict[str, Any]:
    return mention(
        n,
        platform="reddit",
        source="reddit-bulk",
        external_id=f"t3_bulk{n}",
        text=f"Free crypto giveaway number {n}, click now",
        author={"platform_id": f"spammer{n % 40}", "handle": f"spammer{n % 40}"},
    )


@pytest.fixture
async def moderator(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="mod")


async def _store(sessions: async_sessionmaker[AsyncSession], items: list[dict]) -> list[int]:
    ids: list[int] = []
    async with sessions() as session, session.begin():
        for start in range(0, len(items), 500):
            ids += (await ingest_mentions(session, items[start : start + 500])).new_mention_ids
    return ids


async def _states(sessions: async_sessionmaker[AsyncSession]) -> dict[int, tuple]:
    async with sessions() as session:
        rows = await session.execute(select(*SNAPSHOT).order_by(QueueItem.mention_id))
        return {row[0]: tuple(row[1:]) for row in rows}


async def _finished(client: httpx.AsyncClient, staff: Staff, job: dict) -> dict:
    for _ in range(1200):
        if job["state"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.05)
        job = (await client.get(f"/api/v1/bulk/{job['id']}", headers=staff.headers)).json()
    raise AssertionError(f"bulk job {job['id']} did not finish: {job}")


async def test_marking_1000_matching_mentions_as_spam_and_undoing_it_restores_all_of_them(
    client: httpx.AsyncClient, moderator: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    spam_ids = await _store(sessions, [reddit(n) for n in range(1000)])
    bystanders = await _store(sessions, [mention(n) for n in range(5)])
    async with sessions() as session, session.begin():
        # Some history worth restoring exactly: one was already open with a reason.
        await session.execute(
            update(QueueItem)
            .where(QueueItem.mention_id == spam_ids[0])
            .values(status="open", status_reason="looked at it")
        )
    before = await _states(sessions)

    started = await client.post(
        "/api/v1/bulk",
        json={"action": "spam", "filter": {"platform": "reddit", "status": ["new", "open"]}},
        headers=moderator.headers,
    )
    assert started.status_code == 202, started.text
    assert started.headers["location"].endswith(f"/api/v1/bulk/{started.json()['id']}")
    job = await _finished(client, moderator, started.json())

    assert (job["state"], job["total"], job["applied"], job["skipped"]) == ("done", 1000, 1000, 0)
    assert job["progress"] == 1.0 and job["undo_until"] is not None
    marked = await _states(sessions)
    assert {marked[i][0] for i in spam_ids} == {"spam"}
    assert {marked[i][0] for i in bystanders} == {"new"}

    undo = await client.post(f"/api/v1/bulk/{job['id']}/undo", headers=moderator.headers)
    assert undo.status_code == 202, undo.text
    undone = await _finished(client, moderator, undo.json())

    assert (undone["state"], undone["applied"], undone["skipped"]) == ("done", 1000, 0)
    assert await _states(sessions) == before
    original = (await client.get(f"/api/v1/bulk/{job['id']}", headers=moderator.headers)).json()
    assert original["undone_by_id"] == undone["id"]
    async with sessions() as session:
        audits = (
            await session.execute(
                select(AuditEntry.action, func.count())
                .where(AuditEntry.action.like("bulk_%"))
                .group_by(AuditEntry.action)
            )
        ).all()
    assert dict(audits) == {
        "bulk_spam": 1000,
        "bulk_undo": 1000,
        "bulk_spam_requested": 1,
        "bulk_undo_requested": 1,
    }


async def test_a_small_bulk_action_answers_when_done_and_skips_what_it_cannot_do(
    client: httpx.AsyncClient, moderator: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _store(sessions, [mention(n) for n in range(3)])
    async with sessions() as session, session.begin():
        await session.execute(
            update(QueueItem).where(QueueItem.mention_id == ids[2]).values(status="resolved")
        )

    response = await client.post(
        "/api/v1/bulk",
        json={"action": "status", "status": "hidden", "ids": ids, "reason": "off-topic"},
        headers=moderator.headers,
    )

    assert response.status_code == 200
    job = response.json()
    assert (job["state"], job["applied"], job["skipped"]) == ("done", 2, 1)
    skipped = await client.get(
        f"/api/v1/bulk/{job['id']}/items", params={"state": "skipped"}, headers=moderator.headers
    )
    assert skipped.json() == [
        {"mention_id": ids[2], "state": "skipped", "reason": "cannot move from resolved to hidden"}
    ]


async def test_undo_skips_items_someone_changed_since_and_cannot_run_twice(
    client: httpx.AsyncClient, moderator: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _store(sessions, [mention(n) for n in range(3)])
    job = (
        await client.post(
            "/api/v1/bulk",
            json={"action": "tag", "tags": ["Outage"], "ids": ids},
            headers=moderator.headers,
        )
    ).json()
    assert job["applied"] == 3
    changed = await client.post(
        f"/api/v1/mentions/{ids[0]}/status",
        json={"status": "open", "version": 2},
        headers=moderator.headers,
    )
    assert changed.status_code == 200

    undo = (await client.post(f"/api/v1/bulk/{job['id']}/undo", headers=moderator.headers)).json()
    assert (undo["applied"], undo["skipped"]) == (2, 1)
    tags = await client.get("/api/v1/tags", headers=moderator.headers)
    assert tags.json() == [{"name": "outage", "mentions": 1}]

    again = await client.post(f"/api/v1/bulk/{job['id']}/undo", headers=moderator.headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM


async def test_undo_is_refused_after_its_window_and_for_other_moderators(
    client: httpx.AsyncClient,
    moderator: Staff,
    make_staff: MakeStaff,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _store(sessions, [mention(1)])
    job = (
        await client.post(
            "/api/v1/bulk", json={"action": "spam", "ids": ids}, headers=moderator.headers
        )
    ).json()
    colleague = await make_staff(Role.MODERATOR)
    other = await client.post(f"/api/v1/bulk/{job['id']}/undo", headers=colleague.headers)
    assert other.status_code == 403

    async with sessions() as session, session.begin():
        await session.execute(
            update(BulkJob)
            .where(BulkJob.id == job["id"])
            .values(undo_until=utcnow() - timedelta(seconds=1))
        )
    late = await client.post(f"/api/v1/bulk/{job['id']}/undo", headers=moderator.headers)
    assert late.status_code == 409
    assert "window" in late.json()["detail"]


async def test_bulk_needs_exactly_one_selection_and_the_triage_scope(
    client: httpx.AsyncClient, moderator: Staff, make_staff: MakeStaff
) -> None:
    both = await client.post(
        "/api/v1/bulk", json={"action": "spam", "ids": [1], "filter": {}}, headers=moderator.headers
    )
    assert both.status_code == 422
    analyst = await make_staff(Role.ANALYST)
    refused = await client.post(
        "/api/v1/bulk", json={"action": "spam", "filter": {}}, headers=analyst.headers
    )
    assert refused.status_code == 403

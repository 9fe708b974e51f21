"""`Idempotency-Key`: a retry gets the first answer, the work is done once, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import BulkJob, IdempotencyKey, OutboxMessage, Question, Role, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.queue import bulk
from moderation.queue.tasks import triage_sweep
from tests.conftest import MakeStaff, Staff
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.factories import mention
from tests.moderation.outbox_helpers import hear_status, mastodon_source

PROBLEM = "application/problem+json"


@pytest.fixture
async def mod(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="mod")


@pytest.fixture
async def ids(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session, session.begin():
        return (await ingest_mentions(session, [mention(n) for n in range(3)])).new_mention_ids


async def _count(sessions: async_sessionmaker[AsyncSession], what: object) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(what))).scalar_one())  # type: ignore[arg-type]


def _spam(ids: list[int]) -> dict[str, object]:
    return {"action": "spam", "ids": ids}


async def test_the_same_key_gets_the_first_answer_and_the_work_is_done_once(
    client: httpx.AsyncClient,
    mod: Staff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    headers = mod.headers | {"Idempotency-Key": "3f1c-spam-run"}
    first = await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    # The same JSON, written differently, is the same request.
    again = await client.post(
        "/api/v1/bulk",
        content=b'{ "ids": %s, "action": "spam" }' % str(ids).encode(),
        headers=headers | {"Content-Type": "application/json"},
    )

    assert first.status_code == 200, first.text
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await _count(sessions, BulkJob) == 1


async def test_the_same_key_with_another_request_is_refused(
    client: httpx.AsyncClient,
    mod: Staff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    headers = mod.headers | {"Idempotency-Key": "reused"}
    await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    other = await client.post("/api/v1/bulk", json=_spam(ids[:1]), headers=headers)

    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert other.json()["type"] == "urn:luister:problem:idempotency-key-reused"
    assert await _count(sessions, BulkJob) == 1


async def test_keys_belong_to_their_user(
    client: httpx.AsyncClient,
    mod: Staff,
    make_staff: MakeStaff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    other = await make_staff(Role.MODERATOR, username="other")
    mine = await client.post(
        "/api/v1/bulk", json=_spam(ids), headers=mod.headers | {"Idempotency-Key": "k1"}
    )
    theirs = await client.post(
        "/api/v1/bulk", json=_spam(ids), headers=other.headers | {"Idempotency-Key": "k1"}
    )

    assert mine.status_code == theirs.status_code == 200
    assert mine.json()["id"] != theirs.json()["id"]
    assert await _count(sessions, BulkJob) == 2


async def test_a_refusal_is_answered_again_and_a_crash_before_the_commit_leaves_no_key(
    client: httpx.AsyncClient,
    mod: Staff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = {"Idempotency-Key": "no-such-mention"}
    first = await client.post("/api/v1/bulk", json=_spam([999_999]), headers=mod.headers | refused)
    again = await client.post("/api/v1/bulk", json=_spam([999_999]), headers=mod.headers | refused)
    assert first.status_code == again.status_code == 400
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away mid-request")

    key = mod.headers | {"Idempotency-Key": "crashed"}
    monkeypatch.setattr(bulk.audit, "record", crash)
    crashed = await client.post("/api/v1/bulk", json=_spam(ids), headers=key)
    monkeypatch.undo()
    assert crashed.status_code == 500
    assert await _count(sessions, BulkJob) == 0, "nothing of the failed request is left"

    retried = await client.post("/api/v1/bulk", json=_spam(ids), headers=key)
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers
    assert await _count(sessions, BulkJob) == 1


async def test_a_key_whose_work_is_committed_but_unanswered_is_never_done_again(
    client: httpx.AsyncClient,
    mod: Staff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    headers = mod.headers | {"Idempotency-Key": "in-flight"}
    await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    async with sessions() as session, session.begin():  # as if the answer was never stored
        await session.execute(update(IdempotencyKey).values(status=None, body=None))

    busy = await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
    assert busy.json()["type"] == "urn:luister:problem:idempotency-key-in-use"

    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(minutes=10))
        )
    lost = await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    assert lost.status_code == 409 and "not recorded" in lost.json()["detail"]
    assert await _count(sessions, BulkJob) == 1


async def test_a_key_past_its_retention_is_forgotten(
    client: httpx.AsyncClient,
    mod: Staff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    headers = mod.headers | {"Idempotency-Key": "old"}
    await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    later = await client.post("/api/v1/bulk", json=_spam(ids), headers=headers)
    assert later.status_code == 200 and "idempotent-replayed" not in later.headers
    assert await _count(sessions, BulkJob) == 2

    async with sessions() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    report = await triage_sweep(sessions, settings=settings)
    assert report.idempotency_keys_purged == 1
    assert await _count(sessions, IdempotencyKey) == 0


async def test_two_requests_with_one_key_at_once_do_the_work_once(
    client: httpx.AsyncClient,
    mod: Staff,
    ids: list[int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    headers = mod.headers | {"Idempotency-Key": "twice-at-once"}
    answers = await asyncio.gather(
        *(client.post("/api/v1/bulk", json=_spam(ids), headers=headers) for _ in range(2))
    )

    statuses = sorted(a.status_code for a in answers)
    assert statuses in ([200, 200], [200, 409]), [a.text for a in answers]
    assert await _count(sessions, BulkJob) == 1


async def test_a_malformed_key_is_a_validation_error(
    client: httpx.AsyncClient, mod: Staff, ids: list[int]
) -> None:
    answer = await client.post(
        "/api/v1/bulk", json=_spam(ids), headers=mod.headers | {"Idempotency-Key": "x" * 256}
    )
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with LoopbackServer("127.0.0.1") as server:
        yield FakeMastodon(server)


async def test_a_retried_reply_is_drafted_and_scheduled_once(
    client: httpx.AsyncClient,
    mod: Staff,
    fake: FakeMastodon,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    source_id = await mastodon_source(sessions, settings, fake)
    anna = await hear_status(sessions, source_id, fake.add_status("My rides get lost"))
    headers = mod.headers | {"Idempotency-Key": "reply-1"}
    body = {"body": "Thanks Anna, we are on it.", "send": True}

    first = await client.post(f"/api/v1/mentions/{anna}/replies", json=body, headers=headers)
    again = await client.post(f"/api/v1/mentions/{anna}/replies", json=body, headers=headers)
    elsewhere = await client.post(
        f"/api/v1/mentions/{anna + 1}/replies", json=body, headers=headers
    )

    assert first.status_code == 201 and first.json()["status"] == "scheduled"
    assert (again.status_code, again.content) == (201, first.content)
    assert elsewhere.status_code == 422  # the same key on another mention is another request
    assert await _count(sessions, OutboxMessage) == 1


async def test_a_retried_question_is_asked_once(
    client: httpx.AsyncClient,
    mod: Staff,
    fake: FakeMastodon,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    source_id = await mastodon_source(sessions, settings, fake)
    headers = mod.headers | {"Idempotency-Key": "question-1"}
    body = {"body": "Which routes should we light first?", "source_id": source_id}

    first = await client.post("/api/v1/questions", json=body, headers=headers)
    again = await client.post("/api/v1/questions", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (201, first.content)
    assert await _count(sessions, Question) == 1
    assert await _count(sessions, OutboxMessage) == 1

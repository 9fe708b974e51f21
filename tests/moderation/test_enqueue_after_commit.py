"""Work is enqueued only after its row is committed, and a failed enqueue loses nothing.

With Redis down, a bulk action over the inline limit is committed and answered 202 (the triage
sweep enqueues it once Redis is back) instead of a 500 that invites a retry and runs twice;
a request that fails before its commit leaves no job behind.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker, func
from pydantic import SecretStr
from sqlalchemy import func as sql_func
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.http.app import create_app
from api.wiring import JOBS
from listener.models import AuditEntry, BulkJob, QueueItem, Role, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.queue import bulk
from moderation.queue.tasks import TriageRunner, bulk_job_task, triage_sweep_task
from tests.conftest import MakeStaff, Staff
from tests.factories import mention

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: Redis is down


@pytest.fixture
async def mod(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="mod")


async def _ids(sessions: async_sessionmaker[AsyncSession], count: int) -> list[int]:
    async with sessions() as session, session.begin():
        stored = await ingest_mentions(session, [mention(n) for n in range(count)])
    return stored.new_mention_ids


async def _api(engine: AsyncEngine, settings: Settings) -> httpx.AsyncClient:
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://luister.test")


@pytest.fixture
async def redis_down_api(
    engine: AsyncEngine, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The API of a scaled deployment whose Redis is down."""
    down = settings.model_copy(update={"redis_url": SecretStr(CLOSED_REDIS)})
    async with await _api(engine, down) as client:
        yield client


async def _jobs(sessions: async_sessionmaker[AsyncSession]) -> list[BulkJob]:
    async with sessions() as session:
        return list((await session.execute(select(BulkJob).order_by(BulkJob.id))).scalars())


async def _orphaned(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Let the sweep's grace pass: the job was queued a while ago and nobody took it."""
    async with sessions() as session, session.begin():
        await session.execute(update(BulkJob).values(created_at=utcnow() - timedelta(minutes=1)))


async def _applied_once(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> None:
    async with sessions() as session:
        statuses = set(
            (
                await session.execute(
                    select(QueueItem.status, QueueItem.version).where(QueueItem.mention_id.in_(ids))
                )
            ).all()
        )
        audits = (
            await session.execute(select(sql_func.count()).where(AuditEntry.action == "bulk_spam"))
        ).scalar_one()
    assert statuses == {("spam", 2)}, "every item changed exactly once"
    assert audits == len(ids)


@pytest.mark.redis
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_with_redis_down_a_bulk_action_is_accepted_and_runs_once_when_redis_is_back(
    redis_down_api: httpx.AsyncClient,
    mod: Staff,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    redis_url: str,
    tmp_path: Path,
) -> None:
    ids = await _ids(sessions, 150)  # over the inline limit (100): a background job
    headers = mod.headers | {"Idempotency-Key": "spam-150"}

    started = time.monotonic()
    first = await redis_down_api.post(
        "/api/v1/bulk", json={"action": "spam", "ids": ids}, headers=headers
    )
    waited = time.monotonic() - started
    retried = await redis_down_api.post(
        "/api/v1/bulk", json={"action": "spam", "ids": ids}, headers=headers
    )

    assert first.status_code == 202, first.text
    assert first.json()["state"] == "queued"
    assert first.headers["location"].endswith(f"/api/v1/bulk/{first.json()['id']}")
    assert waited < 5, "a Redis that is down fails the enqueue at once"
    assert (retried.status_code, retried.content) == (202, first.content)
    [job] = await _jobs(sessions)
    assert (job.state, job.lease_until) == ("queued", None)

    # Redis is back: the sweep finds the job nobody took and a worker runs it, once.
    await _orphaned(sessions)
    queue = f"luister:test:enqueue:{os.getpid()}:{tmp_path.name}"
    up = settings.model_copy(update={"redis_url": SecretStr(redis_url), "queue_name": queue})
    redis = await create_pool(
        RedisSettings.from_dsn(redis_url),
        job_serializer=lambda v: json.dumps(v).encode(),
        job_deserializer=json.loads,
    )
    worker = Worker(
        functions=[func(bulk_job_task, name="bulk_job_task", keep_result=0)],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=queue,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=lambda v: json.dumps(v).encode(),
        job_deserializer=json.loads,
        ctx={"sessions": sessions, "settings": up},
    )
    try:
        ctx = {"sessions": sessions, "settings": up, "redis": redis}
        await triage_sweep_task(ctx)
        await worker.main()
        await triage_sweep_task(ctx)  # a finished job is no orphan: nothing more to do
        await worker.main()
    finally:
        await worker.close()
        await redis.aclose()

    [job] = await _jobs(sessions)
    assert (job.state, job.processed, job.applied) == ("done", 150, 150)
    assert worker.jobs_complete == 1
    await _applied_once(sessions, ids)


async def test_an_inline_run_cut_short_is_accepted_and_finished_by_the_sweep(
    client: httpx.AsyncClient,
    mod: Staff,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _ids(sessions, 5)

    async def cut_short(self: TriageRunner, job_id: int) -> None:
        raise ConnectionError("the runner lost its database connection")

    monkeypatch.setattr(TriageRunner, "run_now", cut_short)
    answer = await client.post(
        "/api/v1/bulk", json={"action": "spam", "ids": ids}, headers=mod.headers
    )
    monkeypatch.undo()

    assert answer.status_code == 202 and answer.json()["state"] == "queued"
    await _orphaned(sessions)
    await EmbeddedRunner(sessions, settings, JOBS).run_now("triage_sweep_task")
    [job] = await _jobs(sessions)
    assert (job.state, job.applied) == ("done", 5)
    await _applied_once(sessions, ids)


async def test_a_request_that_fails_before_its_commit_leaves_no_job(
    client: httpx.AsyncClient,
    mod: Staff,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _ids(sessions, 150)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit log is unwritable")

    monkeypatch.setattr(bulk.audit, "record", crash)
    answer = await client.post(
        "/api/v1/bulk", json={"action": "spam", "ids": ids}, headers=mod.headers
    )

    assert answer.status_code == 500
    assert await _jobs(sessions) == []

"""Background triage work: bulk jobs on arq workers or in-process, resumed after a crash."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from arq.connections import RedisSettings
from arq.worker import Worker, func
from pydantic import SecretStr
from sqlalchemy import func as sql_func
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.wiring import JOBS
from listener.models import AuditEntry, BulkJob, QueueItem, Role, User, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.queue import bulk, workflow
from moderation.queue.bulk import BulkParams
from moderation.queue.listing import MentionFilter
from moderation.queue.tasks import (
    ArqEnqueue,
    bulk_job_task,
    run_chunk,
    triage_sweep,
)
from tests.factories import mention
from tests.moderation.staff import staff_user


@pytest.fixture
async def anna(sessions: async_sessionmaker[AsyncSession]) -> User:
    async with sessions() as session, session.begin():
        return await staff_user(session, "anna", Role.MODERATOR)


async def _queue_spam_job(
    sessions: async_sessionmaker[AsyncSession], anna: User, count: int
) -> tuple[int, list[int]]:
    async with sessions() as session, session.begin():
        ids = (await ingest_mentions(session, [mention(n) for n in range(count)])).new_mention_ids
        job = await bulk.request_bulk(
            session,
            params=BulkParams("spam"),
            ids=None,
            filters=MentionFilter(status=["new"]),
            selection={"filter": {"status": ["new"]}},
            actor=anna,
            actor_label="anna",
        )
    return job.id, ids


async def _job(sessions: async_sessionmaker[AsyncSession], job_id: int) -> BulkJob:
    async with sessions() as session:
        return await bulk.get_job(session, job_id=job_id)


@pytest.mark.redis
@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_with_redis_a_bulk_job_is_run_by_an_arq_worker(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    redis_url: str,
    anna: User,
    tmp_path: Path,
) -> None:
    job_id, _ = await _queue_spam_job(sessions, anna, 300)
    queue = f"luister:test:triage:{os.getpid()}:{tmp_path.name}"
    settings = settings.model_copy(update={"redis_url": SecretStr(redis_url), "queue_name": queue})
    enqueue = ArqEnqueue(settings)
    await enqueue(job_id)
    await enqueue(job_id)  # a double submit is one arq job
    await enqueue.aclose()

    worker = Worker(
        functions=[func(bulk_job_task, name="bulk_job_task", keep_result=0)],
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=queue,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=lambda v: json.dumps(v).encode(),
        job_deserializer=json.loads,
        ctx={"sessions": sessions, "settings": settings},
    )
    try:
        await worker.main()
    finally:
        await worker.close()

    assert worker.jobs_complete == 1
    job = await _job(sessions, job_id)
    assert (job.state, job.processed, job.applied) == ("done", 300, 300)


async def test_a_job_whose_runner_died_midway_is_resumed_by_the_sweep_without_doubles(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: User
) -> None:
    job_id, ids = await _queue_spam_job(sessions, anna, 400)
    # A runner took the job, committed one chunk, then died: its lease is left to expire.
    async with sessions() as session, session.begin():
        job = await bulk.get_job(session, job_id=job_id)
        applied, _ = await run_chunk(session, job=job, mention_ids=ids[:250], now=utcnow())
        job.state, job.processed, job.applied = "running", 250, applied
        job.lease_until = utcnow() - timedelta(seconds=1)

    # The embedded runner's sweep finds the orphan and runs it to the end, as a worker would.
    await EmbeddedRunner(sessions, settings, JOBS).run_now("triage_sweep_task")

    job = await _job(sessions, job_id)
    assert (job.state, job.processed, job.applied, job.skipped) == ("done", 400, 400, 0)
    async with sessions() as session:
        versions = set((await session.execute(select(QueueItem.version))).scalars())
        audits = (
            await session.execute(select(sql_func.count()).where(AuditEntry.action == "bulk_spam"))
        ).scalar_one()
    assert versions == {2} and audits == 400  # every item changed exactly once


async def test_the_sweep_wakes_due_snoozes_and_rescores_waiting_items(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: User
) -> None:
    async with sessions() as session, session.begin():
        first, second = (await ingest_mentions(session, [mention(1), mention(2)])).new_mention_ids
        await workflow.snooze(
            session,
            mention_id=first,
            version=1,
            actor=anna,
            actor_label="anna",
            until=utcnow() + timedelta(minutes=5),
        )
        await session.execute(
            update(QueueItem)
            .where(QueueItem.mention_id == first)
            .values(snoozed_until=utcnow() - timedelta(seconds=1))
        )
        # Scores drift with time: pretend both were computed long ago.
        await session.execute(update(QueueItem).values(priority_computed_at=None))

    report = await triage_sweep(sessions, settings=settings)

    assert report.woken == 1
    assert report.refreshed == 2  # both wait now, and both scores were stale
    async with sessions() as session:
        woke = await workflow.get_queue_item(session, mention_id=first)
        scored = await workflow.get_queue_item(session, mention_id=second)
    assert woke.status == "open" and scored.priority_explain is not None

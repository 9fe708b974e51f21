"""Background triage work: bulk jobs and the sweep (snooze wake-ups, stale scores, presence).

The same jobs (`bulk_job_task`, `triage_sweep_task`) run in arq workers and in the embedded
runner inside `luister serve`; `TriageRunner` starts a bulk job that a request just committed.
The database is the truth: a bulk job is a row with a lease, processed in chunks that each
commit their items and the progress together, so a runner that dies mid-job leaves a consistent
prefix and the sweep resumes the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import BulkJob, BulkJobItem, utcnow
from listener.rest import idempotency
from listener.settings import Settings
from moderation.queue.bulk import run_chunk
from moderation.queue.presence import purge_presence
from moderation.queue.priority import PriorityConfig, refresh_stale_priorities
from moderation.queue.snooze import wake_due_snoozes

log = logging.getLogger(__name__)


def _json_dumps(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


CHUNK = 250
LEASE = timedelta(minutes=2)
ATTEMPTS = 3
# Priorities of waiting items drift with time (recency, SLA); refresh the oldest few per sweep.
STALE_AFTER = timedelta(minutes=10)
REFRESH_PER_SWEEP = 2000
# A queued job older than this that no runner holds is enqueued again by the sweep: its first
# enqueue failed or was lost (the row, committed before the enqueue, is the truth).
ORPHAN_GRACE = timedelta(seconds=30)


async def _take_lease(sessions: async_sessionmaker[AsyncSession], job_id: int) -> bool:
    now = utcnow()
    async with sessions() as session, session.begin():
        taken = await session.execute(
            update(BulkJob)
            .where(
                BulkJob.id == job_id,
                BulkJob.state.in_(("queued", "running")),
                or_(BulkJob.lease_until.is_(None), BulkJob.lease_until < now),
            )
            .values(
                state="running",
                lease_until=now + LEASE,
                started_at=func.coalesce(BulkJob.started_at, now),
            )
            .returning(BulkJob.id)
            .execution_options(synchronize_session=False)
        )
        return taken.scalar_one_or_none() is not None


async def _finish(
    session: AsyncSession, job: BulkJob, *, state: str, undo_minutes: int, error: str | None
) -> None:
    now = utcnow()
    job.state = state
    job.error = error
    job.finished_at = now
    job.lease_until = None
    if job.action != "undo":
        job.undo_until = now + timedelta(minutes=undo_minutes)


async def _step(sessions: async_sessionmaker[AsyncSession], job_id: int, undo_minutes: int) -> bool:
    """Process one chunk in one transaction; False once the job is finished."""
    async with sessions() as session, session.begin():
        job = await session.get(BulkJob, job_id, populate_existing=True)
        if job is None or job.state not in ("running",):
            return False
        pending = list(
            (
                await session.execute(
                    select(BulkJobItem.mention_id)
                    .where(BulkJobItem.job_id == job_id, BulkJobItem.state == "pending")
                    .order_by(BulkJobItem.mention_id)
                    .limit(CHUNK)
                )
            ).scalars()
        )
        if not pending:
            await _finish(session, job, state="done", undo_minutes=undo_minutes, error=None)
            return False
        now = utcnow()
        applied, skipped = await run_chunk(session, job=job, mention_ids=pending, now=now)
        job.processed += len(pending)
        job.applied += applied
        job.skipped += skipped
        job.lease_until = now + LEASE
        return True


async def run_bulk_job(
    sessions: async_sessionmaker[AsyncSession], *, job_id: int, undo_minutes: int
) -> None:
    """Run a bulk job to the end (a no-op if another runner holds it or it is finished)."""
    if not await _take_lease(sessions, job_id):
        return
    failures = 0
    while True:
        try:
            if not await _step(sessions, job_id, undo_minutes):
                return
            failures = 0
        except Exception as exc:  # a chunk rolls back whole; retry it, then give up loudly
            failures += 1
            log.warning("bulk job %s: chunk failed (%s/%s): %s", job_id, failures, ATTEMPTS, exc)
            if failures >= ATTEMPTS:
                async with sessions() as session, session.begin():
                    job = await session.get(BulkJob, job_id, populate_existing=True)
                    if job is not None:
                        message = f"{type(exc).__name__}: {exc}"[:2000]
                        await _finish(
                            session, job, state="failed", undo_minutes=undo_minutes, error=message
                        )
                return
            await asyncio.sleep(0.2 * failures)


async def orphaned_jobs(session: AsyncSession, *, now: datetime, grace: timedelta) -> list[int]:
    """Bulk jobs nobody is running: queued a while ago, or running with an expired lease."""
    rows = await session.execute(
        select(BulkJob.id)
        .where(
            or_(
                and_(BulkJob.state == "queued", BulkJob.created_at < now - grace),
                and_(BulkJob.state == "running", BulkJob.lease_until < now),
            )
        )
        .order_by(BulkJob.id)
        .limit(20)
    )
    return list(rows.scalars())


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    woken: int
    refreshed: int
    presence_purged: int
    orphaned_jobs: list[int]
    idempotency_keys_purged: int = 0


async def triage_sweep(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, now: datetime | None = None
) -> SweepReport:
    """Wake snoozes that are due, refresh drifting scores, forget stale viewers, find orphans."""
    now = now or utcnow()
    async with sessions() as session, session.begin():
        woken = await wake_due_snoozes(session, now=now)
    async with sessions() as session, session.begin():
        refreshed = await refresh_stale_priorities(
            session,
            config=PriorityConfig.from_settings(settings),
            older_than=STALE_AFTER,
            limit=REFRESH_PER_SWEEP,
            now=now,
        )
    async with sessions() as session, session.begin():
        purged = await purge_presence(session, ttl_seconds=settings.presence_ttl_seconds, now=now)
        # A queued job nobody took (its enqueue failed, or Redis lost it) is found here.
        orphans = await orphaned_jobs(session, now=now, grace=ORPHAN_GRACE)
    async with sessions() as session, session.begin():
        keys = await idempotency.purge_expired(session, now=now)
    return SweepReport(len(woken), refreshed, purged, orphans, keys)


Enqueue = Callable[[int], Awaitable[None]]


class ArqEnqueue:
    """Hands bulk jobs to the arq workers (the pool is opened on first use).

    A request waits for this, so a Redis that is down fails it at once rather than after arq's
    five connection retries: the job's row is committed already and the sweep enqueues it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ArqRedis | None = None

    async def __call__(self, job_id: int) -> None:
        """Enqueue one bulk job; the job id keeps a double submit from running it twice."""
        if self._pool is None:
            if self.settings.redis_url is None:
                raise ValueError("LUISTER_REDIS_URL is not set; bulk jobs run in-process")
            dsn = self.settings.redis_url.get_secret_value()
            redis = replace(RedisSettings.from_dsn(dsn), conn_retries=0, conn_timeout=2)
            # JSON, as the workers expect (never pickle: a payload in Redis must not run code).
            self._pool = await create_pool(
                redis, job_serializer=_json_dumps, job_deserializer=json.loads
            )
        # arq job ids are global to the Redis server: name the queue so installations sharing
        # one Redis never mistake each other's job 7 for their own.
        queue = self.settings.queue_name
        await self._pool.enqueue_job(
            "bulk_job_task", job_id, _job_id=f"{queue}:bulk:{job_id}", _queue_name=queue
        )

    async def aclose(self) -> None:
        """Close the Redis pool."""
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def arq_enqueue(settings: Settings) -> ArqEnqueue:
    """The enqueue function for a deployment with Redis."""
    return ArqEnqueue(settings)


class TriageRunner:
    """Starts committed bulk jobs: on the arq workers with `enqueue`, else in this process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        enqueue: Enqueue | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.enqueue = enqueue
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, job_id: int) -> None:
        """Start a committed bulk job: on a worker when Redis is configured, else here.

        Raises when Redis cannot take the job; the row stays queued and the sweep enqueues it.
        """
        if self.enqueue is not None:
            await self.enqueue(job_id)
            return
        task = asyncio.create_task(
            run_bulk_job(
                self.sessions, job_id=job_id, undo_minutes=self.settings.bulk_undo_minutes
            ),
            name=f"luister-bulk-{job_id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_now(self, job_id: int) -> None:
        """Run a (small) bulk job in the caller's task."""
        await run_bulk_job(
            self.sessions, job_id=job_id, undo_minutes=self.settings.bulk_undo_minutes
        )

    async def drain(self) -> None:
        """Wait for the bulk jobs running here to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel bulk jobs in flight (their leases expire; the sweep resumes them)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if isinstance(self.enqueue, ArqEnqueue):
            await self.enqueue.aclose()


async def bulk_job_task(ctx: dict[str, Any], job_id: int) -> dict[str, Any]:
    """arq job: run one bulk job (idempotent: the lease and the pending items guard it)."""
    settings: Settings = ctx["settings"]
    await run_bulk_job(ctx["sessions"], job_id=job_id, undo_minutes=settings.bulk_undo_minutes)
    return {"job_id": job_id}


async def triage_sweep_task(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron: the sweep; orphaned bulk jobs are enqueued again."""
    report = await triage_sweep(ctx["sessions"], settings=ctx["settings"])
    for job_id in report.orphaned_jobs:
        await ctx["redis"].enqueue_job(
            "bulk_job_task",
            job_id,
            _job_id=f"{ctx['settings'].queue_name}:bulk:{job_id}:{utcnow().timestamp():.0f}",
            _queue_name=ctx["settings"].queue_name,
        )
    return {"woken": report.woken, "refreshed": report.refreshed}

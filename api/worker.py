"""The arq worker: Redis only triggers; the database says what is due.

Built from `api.wiring.JOBS`, the same list the embedded runner runs. Jobs are JSON-serialised
(never pickle) and short-lived, so a killed worker's job is retried soon after its timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func, get_kwargs
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.wiring import JOBS, session_factory
from listener.db import engine_from_settings
from listener.jobs import JobContext, JobList
from listener.kit.heap import freeze_startup_heap
from listener.kit.http import make_client
from listener.metrics import serve_worker_metrics
from listener.nlp.store import warm_up_tagger
from listener.settings import Settings, get_settings

#: Retries of a Redis command while Redis is away (backoff capped at 2 s: about a minute).
REDIS_RETRIES = 40
#: Pause before looking for jobs again after Redis failed a poll.
POLL_PAUSE_SECONDS = 1.0

logger = logging.getLogger(__name__)


class LuisterWorker(Worker):
    """arq's worker, made to outlive Redis going away in the middle of a poll.

    Commands are retried (see `worker_settings`), but a job being claimed is WATCHed, and a
    dropped connection under WATCH cannot be retried: arq would let that error end the worker.
    Here the poll gives the job back (its counter and semaphore slot) and tries again later; the
    job stays queued in Redis, or the database sweeps enqueue it again.
    """

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in job_ids:
            if self.job_counter >= self.max_jobs:
                return
            try:
                await super().start_jobs([job_id])
            except (RedisError, OSError) as exc:
                if job_id.decode() not in self.tasks:  # counted and holding a slot, not started
                    self.job_counter -= 1
                    self.sem.release()
                logger.warning("Redis failed claiming job %s (%s); polling again", job_id, exc)
                return

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            logger.warning("Redis failed during a poll (%s); polling again shortly", exc)
            await asyncio.sleep(POLL_PAUSE_SECONDS)


#: Set in the context of a `luister worker` process: freeze the heap once started up.
FREEZE_HEAP = "freeze_heap"


def run_worker(settings_class: type) -> None:
    """Run the worker built from `worker_settings` until it is told to stop."""
    kwargs: dict[str, Any] = dict(get_kwargs(settings_class))
    # This process lives on: once started, its heap is frozen (listener/kit/heap.py).
    kwargs["ctx"] = {**(kwargs.get("ctx") or {}), FREEZE_HEAP: True}
    LuisterWorker(**kwargs).run()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


def _loads(value: bytes) -> Any:
    return json.loads(value)


async def startup(ctx: JobContext) -> None:
    """Open the database engine and the guarded HTTP client once per worker."""
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["engine"] = engine_from_settings(settings)
    ctx["sessions"] = session_factory(settings, ctx["engine"])
    ctx["client"] = make_client(settings)
    serve_worker_metrics(settings)  # its own port, when LUISTER_METRICS_WORKER_PORT is set
    # Build the NLP pipelines now rather than inside the first poll's ingest.
    async with ctx["sessions"]() as session:
        await warm_up_tagger(session)
    if ctx.get(FREEZE_HEAP):
        freeze_startup_heap()


async def shutdown(ctx: JobContext) -> None:
    """Close what startup opened."""
    await ctx["client"].aclose()
    await ctx["engine"].dispose()


def worker_settings(settings: Settings, jobs: JobList = JOBS) -> type:
    """The arq WorkerSettings class for `settings` (Redis URL required)."""
    if settings.redis_url is None:
        raise ValueError("LUISTER_REDIS_URL is not set; without Redis, `luister serve` polls")
    redis = RedisSettings.from_dsn(settings.redis_url.get_secret_value())
    # Ride out a Redis restart instead of exiting: every command (and reconnect) is retried
    # with backoff for about a minute. Jobs queued in a Redis that lost them are enqueued again
    # by the sweeps, from the database.
    redis.retry_on_error = [OSError, RedisConnectionError, RedisTimeoutError]
    redis.retry = Retry(ExponentialBackoff(cap=2, base=0.1), REDIS_RETRIES)

    class WorkerSettings:
        functions: ClassVar = [
            func(task.function, name=task.name, timeout=task.timeout(settings), keep_result=0)
            for task in jobs.tasks
        ]
        cron_jobs: ClassVar = [
            cron(
                job.function,
                second=set(job.second),
                minute=set(job.minute) if job.minute is not None else None,
                run_at_startup=job.run_at_startup,
                timeout=job.timeout(settings),
            )
            for job in jobs.periodic
        ]
        on_startup = startup
        on_shutdown = shutdown
        redis_settings = redis
        queue_name = settings.queue_name
        job_serializer = staticmethod(_dumps)
        job_deserializer = staticmethod(_loads)
        # Each worker refreshes `<queue>:health-check` (read by /readyz) this often.
        health_check_interval = 10
        max_jobs = settings.poll_concurrency * 2
        ctx: ClassVar = {"settings": settings}

    return WorkerSettings

"""The arq worker: Redis only triggers; the database says what is due.

Built from `api.wiring.JOBS`, the same list the embedded runner runs. Jobs are JSON-serialised
(never pickle) and short-lived, so a killed worker's job is retried soon after its timeout.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from api.wiring import JOBS, session_factory
from listener.db import engine_from_settings
from listener.jobs import JobContext, JobList
from listener.kit.http import make_client
from listener.metrics import serve_worker_metrics
from listener.nlp.store import warm_up_tagger
from listener.settings import Settings, get_settings

#: Retries of a Redis command while Redis is away (backoff capped at 2 s: about a minute).
REDIS_RETRIES = 40


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

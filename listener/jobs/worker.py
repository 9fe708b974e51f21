"""arq worker settings: Redis only triggers; the sources table says what is due.

A cron sweep every 15 s enqueues a poll job per due source, keyed by source and due time so a
sweep racing another cannot enqueue the same poll twice. Jobs are JSON-serialised (never
pickle) and short-lived, so a killed worker's job is retried soon after its timeout.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings
from arq.worker import func

from listener.db import engine_from_settings, make_sessionmaker
from listener.polling import due_source_ids, make_client, poll_source
from listener.settings import Settings, get_settings

log = logging.getLogger(__name__)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


def _loads(value: bytes) -> Any:
    return json.loads(value)


async def startup(ctx: dict[str, Any]) -> None:
    """Open the database engine and the guarded HTTP client once per worker."""
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["engine"] = engine_from_settings(settings)
    ctx["sessions"] = make_sessionmaker(ctx["engine"])
    ctx["client"] = make_client(settings)


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close what startup opened."""
    await ctx["client"].aclose()
    await ctx["engine"].dispose()


async def poll_source_job(ctx: dict[str, Any], source_id: int) -> dict[str, Any]:
    """arq job: poll one source (idempotent; the source's lease guards against doubles)."""
    outcome = await poll_source(
        ctx["sessions"], source_id=source_id, settings=ctx["settings"], client=ctx["client"]
    )
    return {
        "source_id": source_id,
        "ok": outcome.ok,
        "counts": outcome.report.counts() if outcome.report else None,
        "error": outcome.error,
        "skipped": outcome.skipped,
    }


async def sweep_due_sources(ctx: dict[str, Any]) -> int:
    """arq cron: enqueue a poll for every due source; return how many were enqueued."""
    async with ctx["sessions"]() as session:
        due = await due_source_ids(session, limit=500)
    enqueued = 0
    for source_id in due:
        job = await ctx["redis"].enqueue_job(
            "poll_source_job",
            source_id,
            _job_id=f"poll:{source_id}",
            _queue_name=ctx["settings"].queue_name,
        )
        enqueued += job is not None
    return enqueued


def worker_settings(settings: Settings) -> type:
    """The arq WorkerSettings class for `settings` (Redis URL required)."""
    if settings.redis_url is None:
        raise ValueError("LUISTER_REDIS_URL is not set; without Redis, `luister serve` polls")
    redis = RedisSettings.from_dsn(settings.redis_url.get_secret_value())
    timeout = settings.job_timeout_seconds

    class WorkerSettings:
        functions: ClassVar = [func(poll_source_job, timeout=timeout, keep_result=0)]
        cron_jobs: ClassVar = [
            cron(sweep_due_sources, second={0, 15, 30, 45}, run_at_startup=True, timeout=30)
        ]
        on_startup = startup
        on_shutdown = shutdown
        redis_settings = redis
        queue_name = settings.queue_name
        job_serializer = staticmethod(_dumps)
        job_deserializer = staticmethod(_loads)
        health_check_interval = 60
        max_jobs = settings.poll_concurrency * 2
        ctx: ClassVar = {"settings": settings}

    return WorkerSettings

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
from listener.digest.tasks import alert_cron, digest_cron
from listener.nlp.store import warm_up_tagger
from listener.settings import Settings, get_settings
from listener.sources.polling import due_sources, make_client, poll_source
from moderation.outbox.followup import install_hooks as install_followup_hooks
from moderation.outbox.tasks import follow_threads_job, send_outbox_job, sweep_outbox
from moderation.queue.reactions import install as install_triage_hooks
from moderation.queue.tasks import bulk_job_task, triage_sweep_task

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
    install_followup_hooks(settings)
    install_triage_hooks(settings)
    # Build the NLP pipelines now rather than inside the first poll's ingest.
    async with ctx["sessions"]() as session:
        await warm_up_tagger(session)


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
        due = await due_sources(session, limit=500)
    enqueued = 0
    for source_id, expired_lease in due:
        # Job ids are global in Redis: the queue name keeps deployments (and tests) apart.
        # The expired lease gives a crashed poll's retry its own id: arq would otherwise hold
        # the dead job's id until its in-progress key expires (the longest job timeout + 10 s).
        attempt = int(expired_lease.timestamp()) if expired_lease else 0
        job = await ctx["redis"].enqueue_job(
            "poll_source_job",
            source_id,
            _job_id=f"{ctx['settings'].queue_name}:poll:{source_id}:{attempt}",
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
        functions: ClassVar = [
            func(poll_source_job, timeout=timeout, keep_result=0),
            func(send_outbox_job, timeout=timeout, keep_result=0),
            # Chunks commit as they go; a timed-out job is resumed by the triage sweep.
            func(bulk_job_task, timeout=max(900, timeout), keep_result=0),
        ]
        cron_jobs: ClassVar = [
            cron(sweep_due_sources, second={0, 15, 30, 45}, run_at_startup=True, timeout=30),
            # Outbox rows are swept often: the undo window is short and replies should not lag.
            cron(sweep_outbox, second=set(range(0, 60, 5)), run_at_startup=True, timeout=30),
            cron(follow_threads_job, second={20}, timeout=timeout),
            # Digests: the weekly schedule and email retries each minute; spikes once an hour.
            cron(digest_cron, second={40}, timeout=max(60, timeout)),
            cron(alert_cron, minute={1}, second={10}, timeout=max(60, timeout)),
            # Triage: snooze wake-ups, drifting priorities, stale viewers, orphaned bulk jobs.
            cron(triage_sweep_task, second={5, 35}, run_at_startup=True, timeout=max(60, timeout)),
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

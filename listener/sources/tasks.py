"""The polling jobs: a sweep that enqueues a poll per due source, and the poll itself.

Redis only triggers; the sources table says what is due. The sweep keys each poll by source and
expired lease, so a sweep racing another cannot enqueue the same poll twice.
"""

from __future__ import annotations

from typing import Any

from listener.jobs import JobContext
from listener.sources.polling import due_sources, poll_source
from listener.sources.recheck import recheck_sources


async def poll_source_job(ctx: JobContext, source_id: int) -> dict[str, Any]:
    """Poll one source (idempotent: the source's lease guards against doubles)."""
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


async def sweep_due_sources(ctx: JobContext) -> int:
    """Enqueue a poll for every due source; return how many were enqueued."""
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


#: Seconds one re-check cycle may spend asking platforms (its job timeout leaves a margin).
RECHECK_BUDGET_SECONDS = 200


async def recheck_sources_job(ctx: JobContext) -> dict[str, int]:
    """Ask platforms whether recent and open mentions still exist; hide the gone ones."""
    report = await recheck_sources(
        ctx["sessions"],
        settings=ctx["settings"],
        client=ctx["client"],
        budget_seconds=RECHECK_BUDGET_SECONDS,
    )
    return report.counts()

"""Outbox and follow-up jobs: one set of functions for arq workers and the in-process runner.

Declared once in `api.wiring`, from which both arq and the embedded runner are built. Sending is
keyed by the outbox row and its attempt (`<queue>:outbox:<id>:<attempts>`); a sweep every few
seconds enqueues what is due, including rows whose worker died mid-send, so Redis losing a job
loses nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.settings import Settings
from moderation.outbox.followup import due_follows, follow_thread
from moderation.outbox.sending import deliver, due_outbox


async def send_outbox_job(ctx: dict[str, Any], outbox_id: int) -> dict[str, Any]:
    """arq job: send one outbox row (a no-op unless it is due or its worker died)."""
    done = await deliver(
        ctx["sessions"], outbox_id=outbox_id, settings=ctx["settings"], client=ctx["client"]
    )
    return {"outbox_id": done.outbox_id, "status": done.status, "detail": done.detail}


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """arq cron: enqueue a send for every due row; return how many were enqueued."""
    async with ctx["sessions"]() as session:
        due = await due_outbox(session, limit=200)
    enqueued = 0
    for outbox_id, attempts in due:
        # Keyed by row and attempt: a sweep never doubles a queued send, and a row whose worker
        # died is taken up at once instead of waiting for arq's in-progress key to expire.
        # Job ids are global in Redis, so the queue name keeps two deployments apart.
        queue = ctx["settings"].queue_name
        job = await ctx["redis"].enqueue_job(
            "send_outbox_job",
            outbox_id,
            _job_id=f"{queue}:outbox:{outbox_id}:{attempts}",
            _queue_name=queue,
        )
        enqueued += job is not None
    return enqueued


async def follow_threads_job(ctx: dict[str, Any]) -> int:
    """arq cron: read the threads of sent replies and questions that are due; return how many."""
    return await follow_due_threads(ctx["sessions"], settings=ctx["settings"], client=ctx["client"])


async def follow_due_threads(
    sessions: async_sessionmaker[AsyncSession], *, settings: Settings, client: httpx.AsyncClient
) -> int:
    """Read every due thread once."""
    async with sessions() as session:
        due = await due_follows(session, settings=settings)
    for outbox_id in due:
        await follow_thread(sessions, outbox_id=outbox_id, settings=settings, client=client)
    return len(due)

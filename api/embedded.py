"""The embedded mode's scheduler: the declared background jobs, run inside `luister serve`.

Without Redis, the API process runs the same jobs the arq workers would, on the same
wall-clock schedule. Work a job hands on (`ctx["redis"].enqueue_job(...)`) runs here as an
asyncio task instead of going to Redis; a job id already running is not started twice, as in
arq.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.jobs import JobContext, JobList, Periodic
from listener.kit.http import make_client
from listener.settings import Settings

log = logging.getLogger(__name__)


class InProcessQueue:
    """arq's `enqueue_job`, run in this process with bounded concurrency."""

    def __init__(self, runner: EmbeddedRunner, limit: int) -> None:
        self._runner = runner
        self._limit = asyncio.Semaphore(limit)
        self._running: dict[str, asyncio.Task[Any]] = {}

    async def enqueue_job(
        self, function: str, *args: Any, _job_id: str | None = None, **_options: Any
    ) -> asyncio.Task[Any] | None:
        """Start `function(ctx, *args)` now; None when a job with the same id is running."""
        task_spec = self._runner.jobs.task(function)
        key = _job_id or f"{function}:{id(args)}"
        if key in self._running:
            return None
        timeout = task_spec.timeout(self._runner.settings)

        async def _run() -> Any:
            async with self._limit:
                return await asyncio.wait_for(
                    task_spec.function(self._runner.context(), *args), timeout
                )

        task = asyncio.create_task(_run(), name=f"luister-{key}")
        self._running[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        self._running.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job %s failed", key, exc_info=task.exception())

    async def drain(self) -> None:
        """Wait until no enqueued job is running."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel the running jobs (each commits nothing half-done; the sweeps resume them)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class EmbeddedRunner:
    """Runs the declared periodic jobs on their schedule and the work they enqueue."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        jobs: JobList,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.jobs = jobs
        #: The process's one guarded client (the app's); the runner makes its own without one.
        self.client = client
        self._owns_client = False
        self.queue = InProcessQueue(self, limit=settings.poll_concurrency * 2)
        self._loop: asyncio.Task[None] | None = None
        self._periodic: dict[str, asyncio.Task[Any]] = {}

    def context(self) -> JobContext:
        """What every job is given: the same keys an arq worker's context has."""
        return {
            "sessions": self.sessions,
            "settings": self.settings,
            "client": self.client,
            "redis": self.queue,
        }

    async def run_now(self, name: str) -> Any:
        """Run the periodic job `name` once and wait for the work it enqueued; its result."""
        [job] = [p for p in self.jobs.periodic if p.name == name]
        result = await asyncio.wait_for(job.function(self.context()), job.timeout(self.settings))
        await self.queue.drain()
        return result

    def _start(self, job: Periodic) -> None:
        running = self._periodic.get(job.name)
        if running is not None and not running.done():
            return  # the last run is still going: skip this one, as a cron would not overlap

        async def _run() -> None:
            try:
                await asyncio.wait_for(job.function(self.context()), job.timeout(self.settings))
            except Exception:  # one failing job must not stop the others
                log.exception("background job %s failed", job.name)

        self._periodic[job.name] = asyncio.create_task(_run(), name=f"luister-{job.name}")

    async def _forever(self) -> None:
        for job in self.jobs.periodic:
            if job.run_at_startup:
                self._start(job)
        last = datetime.now(UTC).replace(microsecond=0)
        while True:
            now = datetime.now(UTC)
            await asyncio.sleep(1 - now.microsecond / 1_000_000)
            now = datetime.now(UTC).replace(microsecond=0)
            # Every second since the last check, so a slow loop misses no scheduled run.
            moment = last + timedelta(seconds=1)
            while moment <= now:
                for job in self.jobs.periodic:
                    if job.due_at(moment):
                        self._start(job)
                moment += timedelta(seconds=1)
            last = now

    def start(self) -> None:
        """Begin running the schedule in the background."""
        if self.client is None:
            self.client = make_client(self.settings)
            self._owns_client = True
        if self._loop is None:
            self._loop = asyncio.create_task(self._forever(), name="luister-embedded")

    async def stop(self) -> None:
        """Stop the schedule and cancel the jobs in flight (committed work stays, sweeps resume)."""
        tasks = [*self._periodic.values(), *([self._loop] if self._loop else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.queue.cancel()
        self._loop = None
        self._periodic.clear()
        if self._owns_client and self.client is not None:
            await self.client.aclose()
            self.client = None
            self._owns_client = False

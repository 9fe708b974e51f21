"""The embedded mode's scheduler: runs due polls inside `luister serve`, no Redis needed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.settings import Settings
from listener.sources.polling import due_source_ids, make_client, poll_source

log = logging.getLogger(__name__)

#: Work a higher layer adds to every tick (the outbox, say), given by the composition root.
Tick = Callable[[async_sessionmaker[AsyncSession], Settings, httpx.AsyncClient], Awaitable[object]]


class InProcessRunner:
    """Every tick, poll the sources that are due, a few at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        extra_ticks: Sequence[Tick] = (),
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.extra_ticks = list(extra_ticks)
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    async def tick(self) -> int:
        """Start polls for the due sources that are not already being polled; return how many."""
        async with self.sessions() as session:
            due = await due_source_ids(session, limit=self.settings.poll_concurrency * 4)
        limit = asyncio.Semaphore(self.settings.poll_concurrency)

        async def _one(source_id: int) -> None:
            async with limit:
                await poll_source(
                    self.sessions, source_id=source_id, settings=self.settings, client=self._client
                )

        await asyncio.gather(*(_one(i) for i in due))
        for extra in self.extra_ticks:
            try:
                await extra(self.sessions, self.settings, self._client)
            except Exception:  # one failing kind of work must not stop the polls
                log.exception("in-process tick %s failed", getattr(extra, "__name__", extra))
        return len(due)

    async def _loop(self) -> None:
        async with make_client(self.settings) as client:
            self._client = client
            while True:
                try:
                    await self.tick()
                except Exception:  # the scheduler must outlive any one bad tick
                    log.exception("in-process poll tick failed")
                await asyncio.sleep(self.settings.poll_tick_seconds)

    def start(self) -> None:
        """Begin ticking in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="luister-runner")

    async def stop(self) -> None:
        """Stop ticking; polls in flight are cancelled and, having committed nothing, re-run."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

"""A worker outlives Redis dropping its connection while it claims a job (real Redis).

The claim runs under WATCH, where redis-py cannot retry a dropped connection: arq lets that
error end the worker (seen once in a CI chaos run). `LuisterWorker` gives the claim back and
polls again; the job stays queued and runs on the next poll.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import func
from redis.exceptions import WatchError

from api.worker import LuisterWorker

pytestmark = pytest.mark.redis


class _DropsOnce:
    """A pipeline whose first ZSCORE fails as a dropped connection under WATCH does."""

    def __init__(self, pipeline: Any, state: dict[str, int]) -> None:
        self._pipeline = pipeline
        self._state = state

    async def __aenter__(self) -> _DropsOnce:
        await self._pipeline.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pipeline.__aexit__(*exc)

    async def zscore(self, *args: Any) -> Any:
        if self._state["drops"] > 0:
            self._state["drops"] -= 1
            raise WatchError("A ConnectionError occurred on while watching one or more keys")
        return await self._pipeline.zscore(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipeline, name)


async def test_a_connection_dropped_while_claiming_a_job_does_not_end_the_worker(
    redis_url: str,
) -> None:
    queue = f"luister:test:drop:{os.getpid()}"
    ran: list[str] = []

    async def remember(ctx: dict[str, Any], word: str) -> None:
        ran.append(word)

    settings = RedisSettings.from_dsn(redis_url)
    pool: ArqRedis = await create_pool(settings, default_queue_name=queue)
    try:
        await pool.delete(queue)
        await pool.enqueue_job("remember", "hello", _queue_name=queue)
        worker = LuisterWorker(
            functions=[func(remember, name="remember")],
            redis_pool=pool,
            queue_name=queue,
            handle_signals=False,
            max_jobs=4,
        )
        real_pipeline = pool.pipeline
        state = {"drops": 1}
        pool.pipeline = lambda *a, **k: _DropsOnce(real_pipeline(*a, **k), state)  # type: ignore[method-assign]

        slots = worker.sem._value
        await worker._poll_iteration()  # the claim fails: no error escapes, nothing is lost
        assert state["drops"] == 0
        assert ran == [] and worker.tasks == {}
        assert worker.job_counter == 0
        assert worker.sem._value == slots  # its slot given back
        assert await pool.zcard(queue) == 1  # the job is still queued

        await worker._poll_iteration()  # Redis is back: the job runs
        await asyncio.gather(*worker.tasks.values())
        assert ran == ["hello"]
        assert worker.job_counter == 0
    finally:
        await pool.delete(queue)
        await pool.aclose()

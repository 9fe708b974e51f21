"""arq workers on the real Redis: polls happen as jobs, and a killed worker loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention
from listener.settings import Settings
from listener.sources import service
from tests.connectors.servers import LoopbackServer, Reply, Request
from tests.listener.test_polling import rss

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Workers are the scaled deployment, which runs on PostgreSQL only."""
    from listener import migrate
    from tests.conftest import fresh_database

    url = fresh_database("postgresql", tmp_path_factory.mktemp("db"), "worker")
    migrate.upgrade(url)
    return url


TITLES = [f"Item {i}" for i in range(12)]


@pytest.fixture
def worker_env(cli_env: dict[str, str], redis_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for worker processes on a queue of this test's own."""
    return dict(
        cli_env,
        LUISTER_REDIS_URL=redis_url,
        LUISTER_QUEUE_NAME=f"luister:test:{os.getpid()}:{tmp_path.name}",
        LUISTER_HTTP_ALLOW_HOSTS="127.0.0.1",
        LUISTER_JOB_TIMEOUT_SECONDS="5",
    )


@pytest.fixture
def start_worker(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `luister worker` processes; all are stopped after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "worker"], env=worker_env, stdout=log, stderr=log
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


async def _add_feed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, url: str
) -> int:
    async with sessions() as session, session.begin():
        source = await service.create_source(
            session,
            kind="rss",
            name="feed",
            config={"url": url},
            key=settings.secret_bytes(),
            poll_interval_seconds=30,
        )
        return source.id


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count(Mention.id)))).scalar_one()


async def _wait_for_count(
    sessions: async_sessionmaker[AsyncSession], expected: int, seconds: float
) -> int:
    import asyncio

    # A bounded number of looks (about `seconds` of sleeping), not a clock comparison.
    count = await _count(sessions)
    for _ in range(int(seconds / 0.5)):
        if count >= expected:
            break
        await asyncio.sleep(0.5)
        count = await _count(sessions)
    return count


@pytest.mark.slow
async def test_a_worker_polls_due_sources(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    with LoopbackServer("127.0.0.1") as server:
        server.route("/feed.xml", Reply.text(rss(*TITLES), content_type="application/rss+xml"))
        await _add_feed(sessions, settings, server.url("/feed.xml"))
        start_worker()
        assert await _wait_for_count(sessions, len(TITLES), 60) == len(TITLES)


@pytest.mark.slow
async def test_a_worker_killed_mid_poll_loses_and_duplicates_nothing(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    first_request = threading.Event()
    release = threading.Event()
    body = rss(*TITLES).encode()

    def stall_first_then_answer(request: Request) -> Reply:
        if not first_request.is_set():
            first_request.set()
            release.wait(60)  # the worker dies while waiting for this answer
        return Reply(body=body, headers={"Content-Type": "application/rss+xml"})

    with LoopbackServer("127.0.0.1") as server:
        server.route("/feed.xml", stall_first_then_answer)
        await _add_feed(sessions, settings, server.url("/feed.xml"))
        doomed = start_worker()
        assert first_request.wait(60), "the worker never started polling"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        release.set()
        assert await _count(sessions) == 0

        start_worker()
        recovered = await _wait_for_count(sessions, len(TITLES), 90)

        assert recovered == len(TITLES)
        assert server.hits("/feed.xml") >= 2
    async with sessions() as session:
        distinct = (
            await session.execute(select(func.count(func.distinct(Mention.external_id))))
        ).scalar_one()
    assert distinct == await _count(sessions) == len(TITLES)

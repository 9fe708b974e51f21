"""A worker killed between the platform's acceptance and our commit: the reply exists once.

Real `luister worker` processes on the real Redis, a real PostgreSQL and a fake forum on
loopback whose create handler stalls after storing the post, so the test can SIGKILL the
worker at exactly the worst moment.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.models import OutboxMessage
from listener.settings import Settings
from moderation.outbox import service as outbox
from tests.conftest import TEST_SECRET
from tests.connectors.fake_platforms import FakeDiscourse, FakeMastodon
from tests.connectors.servers import LoopbackServer, Reply, Request
from tests.moderation.outbox_helpers import (
    discourse_source,
    hear_post,
    hear_status,
    item_status,
    mastodon_source,
    row,
    staff,
)

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Workers are the scaled deployment, which runs on PostgreSQL only."""
    from listener import migrate
    from tests.conftest import fresh_database

    url = fresh_database("postgresql", tmp_path_factory.mktemp("db"), "outboxworker")
    migrate.upgrade(url)
    return url


@pytest.fixture
def start_worker(
    database_url: str, engine: AsyncEngine, redis_url: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start `luister worker` processes on a queue of this test's own; stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env.update(
        LUISTER_DATABASE_URL=database_url,
        LUISTER_DATA_DIR=str(tmp_path / "data"),
        LUISTER_SECRET_KEY=TEST_SECRET,
        LUISTER_REDIS_URL=redis_url,
        LUISTER_QUEUE_NAME=f"luister:test:outbox:{os.getpid()}:{tmp_path.name}",
        LUISTER_HTTP_ALLOW_HOSTS="127.0.0.1",
        LUISTER_JOB_TIMEOUT_SECONDS="5",
    )
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "worker"], env=env, stdout=log, stderr=log
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


def stall_first_create(accepted: threading.Event, release: threading.Event) -> Callable:
    """A create hook: the first post is stored, then the answer hangs until `release`."""

    def hook(request: Request) -> Reply | None:
        if not accepted.is_set():
            accepted.set()
            release.wait(60)  # the worker dies while waiting for this answer
        return None

    return hook


async def wait_for_status(
    sessions: async_sessionmaker[AsyncSession], outbox_id: int, wanted: str, seconds: float
) -> str:
    # A bounded number of looks (about `seconds` of sleeping), not a clock comparison.
    current = (await row(sessions, outbox_id)).status
    for _ in range(int(seconds / 0.3)):
        if current == wanted:
            break
        await asyncio.sleep(0.3)
        current = (await row(sessions, outbox_id)).status
    return current


async def schedule_now(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, mention_id: int
) -> int:
    mod = await staff(sessions, "mod")
    no_window = settings.model_copy(update={"outbox_undo_seconds": 0})
    async with sessions() as session, session.begin():
        draft = await outbox.create_reply(
            session,
            mention_id=mention_id,
            body="Thanks Anna, a fix for lost rides ships on Monday.",
            actor=mod,
        )
        await outbox.schedule(
            session, outbox_id=draft.id, version=draft.version, actor=mod, settings=no_window
        )
        return draft.id


async def kill_mid_send_then_recover(
    sessions: async_sessionmaker[AsyncSession],
    start_worker: Callable[[], subprocess.Popen[bytes]],
    outbox_id: int,
    accepted: threading.Event,
    release: threading.Event,
) -> OutboxMessage:
    doomed = start_worker()
    assert await asyncio.to_thread(accepted.wait, 60), "the worker never sent the reply"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    release.set()
    assert (await row(sessions, outbox_id)).status == "sending"

    start_worker()
    assert await wait_for_status(sessions, outbox_id, "sent", 60) == "sent"
    return await row(sessions, outbox_id)


@pytest.mark.slow
async def test_a_worker_killed_after_the_forum_accepted_the_reply_does_not_post_it_twice(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    accepted, release = threading.Event(), threading.Event()
    with LoopbackServer("127.0.0.1") as server:
        fake = FakeDiscourse(server)
        source_id = await discourse_source(sessions, settings, fake)
        post = fake.add_post("The app is broken since the update")
        mention_id = await hear_post(sessions, source_id, post, server.base_url)
        outbox_id = await schedule_now(sessions, settings, mention_id)
        fake.on_create = stall_first_create(accepted, release)

        sent = await kill_mid_send_then_recover(
            sessions, start_worker, outbox_id, accepted, release
        )

        assert len(fake.posted("/posts.json")) == 1
        ours = [p for p in fake.posts if p["username"] == "luister"]
        assert len(ours) == 1
        assert sent.external_id == f"127.0.0.1:{ours[0]['id']}"
        assert sent.attempts == 2
    assert await item_status(sessions, mention_id) == "answered"


@pytest.mark.slow
async def test_a_worker_killed_after_mastodon_accepted_the_reply_leaves_one_status(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    start_worker: Callable[[], subprocess.Popen[bytes]],
) -> None:
    accepted, release = threading.Event(), threading.Event()
    with LoopbackServer("127.0.0.1") as server:
        fake = FakeMastodon(server)
        source_id = await mastodon_source(sessions, settings, fake)
        mention_id = await hear_status(sessions, source_id, fake.add_status("Lost my rides"))
        outbox_id = await schedule_now(sessions, settings, mention_id)
        fake.on_create = stall_first_create(accepted, release)

        sent = await kill_mid_send_then_recover(
            sessions, start_worker, outbox_id, accepted, release
        )

        # Mastodon gets the request again with the same Idempotency-Key and drops the repeat.
        keys = {r.headers["idempotency-key"] for r in fake.posted("/api/v1/statuses")}
        assert len(keys) == 1 and len(fake.ours()) == 1
        assert sent.external_id == fake.ours()[0]["uri"]
    assert await item_status(sessions, mention_id) == "answered"

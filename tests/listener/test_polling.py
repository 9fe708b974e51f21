"""Polling stores a source's items with its cursor, once; failures back off, pause and recover."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.wiring import JOBS
from listener.kit.http import make_client
from listener.models import Mention, Source, utcnow
from listener.settings import Settings
from listener.sources import service
from listener.sources.polling import backoff_delay, poll_source
from tests.connectors.servers import LoopbackServer, Reply


def rss(*titles: str) -> str:
    """An RSS 2.0 feed with one item per title."""
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example/{i}</link>"
        f"<guid>https://news.example/{i}</guid><description>About {t}</description>"
        f"<pubDate>Tue, 17 Nov 2026 0{i % 10}:00:00 +0000</pubDate></item>"
        for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Fietsbaan news</title><link>https://news.example/</link>{items}"
        "</channel></rss>"
    )


@pytest.fixture
def feed_server() -> Iterator[LoopbackServer]:
    """A feed on 127.0.0.1."""
    with LoopbackServer("127.0.0.1") as server:
        yield server


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The guarded client, admitting 127.0.0.1 as the test settings do."""
    async with make_client(settings) as client:
        yield client


async def _add_rss(sessions: async_sessionmaker[AsyncSession], settings: Settings, url: str) -> int:
    async with sessions() as session, session.begin():
        source = await service.create_source(
            session, kind="rss", name="news", config={"url": url}, key=settings.secret_bytes()
        )
        return source.id


async def _mentions(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count(Mention.id)))).scalar_one()


async def _source(sessions: async_sessionmaker[AsyncSession], source_id: int) -> Source:
    async with sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None
        return source


async def test_poll_stores_items_and_a_second_poll_adds_nothing(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    feed_server: LoopbackServer,
) -> None:
    feed_server.route(
        "/feed.xml",
        Reply.text(rss("Dock 12 is empty", "New e-bikes"), content_type="application/rss+xml"),
    )
    source_id = await _add_rss(sessions, settings, feed_server.url("/feed.xml"))

    first = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)
    second = await poll_source(
        sessions, source_id=source_id, settings=settings, client=guarded, force=True
    )

    assert first.ok and first.report is not None and first.report.new == 2
    assert second.ok and second.report is not None and second.report.new == 0
    assert await _mentions(sessions) == 2
    source = await _source(sessions, source_id)
    assert source.cursor["body_sha256"]
    assert source.next_poll_at is not None and source.next_poll_at > utcnow()
    assert (source.total_polls, source.consecutive_failures) == (2, 0)


async def test_new_items_arrive_on_a_later_poll(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    feed_server: LoopbackServer,
) -> None:
    feed_server.route(
        "/feed.xml",
        Reply.text(rss("One"), content_type="application/rss+xml"),
        Reply.text(rss("One", "Two"), content_type="application/rss+xml"),
    )
    source_id = await _add_rss(sessions, settings, feed_server.url("/feed.xml"))
    await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)
    later = await poll_source(
        sessions, source_id=source_id, settings=settings, client=guarded, force=True
    )
    assert later.report is not None and later.report.new == 1
    assert await _mentions(sessions) == 2


async def test_failures_back_off_then_pause_with_the_reason_and_resume_recovers(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    feed_server: LoopbackServer,
) -> None:
    settings.max_consecutive_failures = 3
    feed_server.route("/feed.xml", Reply.text("<html>oops</html>", status=404))
    source_id = await _add_rss(sessions, settings, feed_server.url("/feed.xml"))

    for attempt in range(1, 4):
        outcome = await poll_source(
            sessions, source_id=source_id, settings=settings, client=guarded, force=True
        )
        assert not outcome.ok and "404" in (outcome.error or "")
        source = await _source(sessions, source_id)
        assert source.consecutive_failures == attempt
        assert source.next_poll_at is not None and source.next_poll_at > utcnow()

    assert source.paused_reason is not None and "3 failed polls" in source.paused_reason
    skipped = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)
    assert skipped.skipped

    feed_server.route("/feed.xml", Reply.text(rss("Back"), content_type="application/rss+xml"))
    async with sessions() as session, session.begin():
        service.resume(await service.get_source(session, source_id=source_id))
    recovered = await poll_source(sessions, source_id=source_id, settings=settings, client=guarded)
    assert recovered.ok
    assert (await _source(sessions, source_id)).last_error is None


async def test_a_private_address_is_refused_without_an_allow_list(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    feed_server: LoopbackServer,
) -> None:
    feed_server.route("/feed.xml", Reply.text(rss("Secret"), content_type="application/rss+xml"))
    strict = settings.model_copy(update={"http_allow_hosts": []})
    source_id = await _add_rss(sessions, strict, feed_server.url("/feed.xml"))
    async with make_client(strict) as client:
        outcome = await poll_source(sessions, source_id=source_id, settings=strict, client=client)
    assert not outcome.ok
    assert "127.0.0.1" in (outcome.error or "")
    assert feed_server.hits("/feed.xml") == 0
    assert await _mentions(sessions) == 0


def test_backoff_grows_but_stays_bounded() -> None:
    import random

    rng = random.Random(7)
    delays = [backoff_delay(n, 300, rng) for n in range(1, 30)]
    assert all(timedelta(seconds=150) <= d <= timedelta(hours=6) for d in delays)
    assert max(delays[10:]) > timedelta(hours=1)


async def test_the_in_process_runner_polls_due_sources(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    feed_server: LoopbackServer,
) -> None:
    feed_server.route(
        "/feed.xml", Reply.text(rss("A", "B", "C"), content_type="application/rss+xml")
    )
    await _add_rss(sessions, settings, feed_server.url("/feed.xml"))
    runner = EmbeddedRunner(sessions, settings, JOBS)
    runner.client = guarded

    assert await runner.run_now("sweep_due_sources") == 1
    assert await runner.run_now("sweep_due_sources") == 0  # not due until its interval passed
    assert await _mentions(sessions) == 3

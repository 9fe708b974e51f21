"""`/metrics`: only a `metrics` or `admin` token reads it; it counts ingest, polls and requests
by route template, and tells the queue's depth by status and SLA band as the database has it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import QueueItem, Role, Scope
from listener.settings import Settings
from listener.sources import service
from listener.sources.ingest import ingest_mentions
from listener.sources.polling import poll_source
from tests.conftest import MakeStaff
from tests.connectors.servers import LoopbackServer, Reply
from tests.factories import mention

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
    "<link>https://news.example/</link><item><title>Dock 12 is empty</title>"
    "<link>https://news.example/1</link><guid>https://news.example/1</guid>"
    "<description>About the dock</description></item></channel></rss>"
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def feed_server() -> Iterator[LoopbackServer]:
    with LoopbackServer("127.0.0.1") as server:
        yield server


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as client:
        yield client


async def _rss_source(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, url: str, name: str
) -> int:
    async with sessions() as session, session.begin():
        source = await service.create_source(
            session, kind="rss", name=name, config={"url": url}, key=settings.secret_bytes()
        )
        return source.id


async def _scrape(client: httpx.AsyncClient, headers: dict[str, str]) -> Samples:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return _samples(response.text)


async def test_metrics_need_the_metrics_or_admin_scope(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    moderator = await make_staff(Role.MODERATOR)
    refused = await client.get("/metrics", headers=moderator.headers)
    assert refused.status_code == 403
    assert "'metrics' or 'admin'" in refused.json()["detail"]
    scraper = await make_staff(Role.ADMIN, scopes=[Scope.METRICS])
    assert (await client.get("/metrics", headers=scraper.headers)).status_code == 200
    # A metrics-only token reads nothing else.
    assert (await client.get("/api/v1/mentions", headers=scraper.headers)).status_code == 403
    admin = await make_staff(Role.ADMIN, scopes=[Scope.ADMIN])
    assert (await client.get("/metrics", headers=admin.headers)).status_code == 200


async def test_metrics_count_ingest_polls_requests_and_queue_depth(
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    feed_server: LoopbackServer,
) -> None:
    scraper = await make_staff(Role.ADMIN, scopes=[Scope.METRICS])
    before = await _scrape(client, scraper.headers)

    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [mention(n) for n in range(3)] + [{"bad": 1}])
    assert (report.new, report.rejected) == (3, 1)
    feed_server.route("/feed.xml", Reply.text(RSS, content_type="application/rss+xml"))
    good = await _rss_source(sessions, settings, feed_server.url("/feed.xml"), "news")
    broken = await _rss_source(sessions, settings, feed_server.url("/gone.xml"), "gone")
    assert (await poll_source(sessions, source_id=good, settings=settings, client=guarded)).ok
    assert not (await poll_source(sessions, source_id=broken, settings=settings, client=guarded)).ok
    async with sessions() as session, session.begin():
        first = (await session.execute(select(func.min(QueueItem.mention_id)))).scalar_one()
        await session.execute(
            update(QueueItem).where(QueueItem.mention_id == first).values(status="open")
        )
    reader = await make_staff(Role.ANALYST)
    assert (await client.get(f"/api/v1/sources/{good}", headers=reader.headers)).status_code == 200

    after = await _scrape(client, scraper.headers)

    def grew(name: str, by: float, **labels: str) -> bool:
        return _value(after, name, **labels) - _value(before, name, **labels) >= by

    assert grew("luister_ingest_items_total", 4, outcome="new")  # 3 ingested + 1 polled
    assert grew("luister_ingest_items_total", 1, outcome="rejected")
    assert grew("luister_poll_seconds_count", 2, kind="rss")
    assert grew("luister_poll_failures_total", 1, kind="rss", stage="fetch")
    assert grew("luister_tagged_texts_total", 4)
    assert grew("luister_tagging_seconds_count", 1)
    # Requests are labelled with their route template, never the raw path.
    route = {"method": "GET", "route": "/api/v1/sources/{source_id}", "status": "2xx"}
    assert grew("luister_http_request_seconds_count", 1, **route)
    assert not any(dict(labels).get("route") == f"/api/v1/sources/{good}" for _, labels in after)
    # The queue's depth, counted at scrape time, is what the database holds.
    async with sessions() as session:
        rows = await session.execute(
            select(QueueItem.status, QueueItem.sla_band, func.count()).group_by(
                QueueItem.status, QueueItem.sla_band
            )
        )
        expected = {(status, band or "none"): count for status, band, count in rows}
    scraped = {
        (dict(labels)["status"], dict(labels)["sla_band"]): value
        for (name, labels), value in after.items()
        if name == "luister_queue_items"
    }
    assert scraped == expected
    assert sum(v for (status, _), v in scraped.items() if status == "open") == 1
    assert sum(scraped.values()) == 4
    # The outbox's and webhooks' counters are declared (incremented where they send).
    response = await client.get("/metrics", headers=scraper.headers)
    for name in ("luister_outbox_outcomes_total", "luister_webhook_deliveries_total"):
        assert f"# TYPE {name} counter" in response.text

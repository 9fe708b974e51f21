"""The query language where users meet it: the queue list, saved views and source keep-filters."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import Mention, Role
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from listener.sources.polling import poll_source
from tests.conftest import MakeStaff, Staff
from tests.connectors.servers import LoopbackServer, Reply
from tests.factories import mention


@pytest.fixture
async def reader(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ANALYST)


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ADMIN)


@pytest.fixture
async def stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    items = {
        "storing": mention(1, text="Wéér een STORING bij de fietsenstalling", language="nl"),
        "plural": mention(2, text="Storingen overal, de app ligt eruit", language="nl"),
        "english": mention(3, text="The app is down again, storing nothing", language="en"),
        "lane": mention(
            4,
            text="Nieuwe fietsbaan op de Maliebaan, zie https://fietsbaan.example/nieuws",
            language="nl",
            author={
                "platform_id": "big",
                "handle": "@Gemeente@mastodon.example",
                "followers": 5000,
            },
        ),
    }
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, list(items.values()))
    return dict(zip(items, report.new_mention_ids, strict=True))


async def _listed(client: httpx.AsyncClient, staff: Staff, **params: str) -> set[int]:
    page = await client.get("/api/v1/mentions", params=params, headers=staff.headers)
    assert page.status_code == 200, page.text
    return {m["id"] for m in page.json()["items"]}


async def test_the_queue_list_takes_a_query(
    client: httpx.AsyncClient, reader: Staff, stored: dict[str, int]
) -> None:
    # Case and accents fold: "storing" finds "STORING" and "Wéér" is "weer".
    assert await _listed(client, reader, query="storing") == {stored["storing"], stored["english"]}
    assert await _listed(client, reader, query="storing lang:nl weer") == {stored["storing"]}
    assert await _listed(client, reader, query="storing* -lang:en") == {
        stored["storing"],
        stored["plural"],
    }
    assert await _listed(client, reader, query='"ligt eruit" OR (app NEAR/2 down)') == {
        stored["plural"],
        stored["english"],
    }
    assert await _listed(
        client, reader, query="has:link followers:>1000 author:gemeente fietsbaan"
    ) == {stored["lane"]}
    # Other filters still narrow it.
    assert await _listed(client, reader, query="app", language="en") == {stored["english"]}


async def test_a_query_that_cannot_be_read_is_a_422_naming_the_column(
    client: httpx.AsyncClient, reader: Staff
) -> None:
    answer = await client.get(
        "/api/v1/mentions", params={"query": "(storing AND lang:"}, headers=reader.headers
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["column"] == 19
    assert problem["detail"] == (
        "query: column 19: expected a value after lang:, found the end of the query"
    )
    answer = await client.get(
        "/api/v1/mentions", params={"query": "fiets sentiment:boos"}, headers=reader.headers
    )
    assert answer.status_code == 422
    assert answer.json()["column"] == 17
    assert "positive, neutral, negative" in answer.json()["detail"]


async def test_a_saved_view_keeps_a_query_and_a_request_query_narrows_it(
    client: httpx.AsyncClient, reader: Staff, stored: dict[str, int]
) -> None:
    made = await client.post(
        "/api/v1/views",
        json={"name": "storingen", "filters": {"query": "storing*"}},
        headers=reader.headers,
    )
    assert made.status_code == 201, made.text
    view = made.json()
    assert view["filters"] == {"query": "storing*"}
    assert view["count"] == 3
    view_id = str(view["id"])
    assert await _listed(client, reader, view=view_id) == {
        stored["storing"],
        stored["plural"],
        stored["english"],
    }
    assert await _listed(client, reader, view=view_id, query="app") == {
        stored["plural"],
        stored["english"],
    }

    bad = await client.post(
        "/api/v1/views",
        json={"name": "broken", "filters": {"query": "storing AND (app"}},
        headers=reader.headers,
    )
    assert bad.status_code == 422
    assert "query: column 17: expected" in bad.json()["detail"]


async def test_erasing_a_text_erases_its_folded_words_and_a_changed_text_refolds(
    sessions: async_sessionmaker[AsyncSession], stored: dict[str, int]
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Mention).where(Mention.id == stored["storing"]).values(text="")
        )
        report = await ingest_mentions(
            session, [mention(2, text="Opgelost: de Fiëtsbaan app werkt weer", language="nl")]
        )
    assert report.updated == 1
    async with sessions() as session:
        folded = dict((await session.execute(select(Mention.id, Mention.folded_text))).all())
    assert folded[stored["storing"]] == ""
    assert folded[stored["plural"]] == " opgelost de fietsbaan app werkt weer "


def _feed(*entries: str) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>https://news.example/{i}</link>"
        f"<guid>https://news.example/{i}</guid><description>{title}</description>"
        f"<pubDate>Tue, 17 Nov 2026 0{i}:00:00 +0000</pubDate></item>"
        for i, title in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Nieuws</title><link>https://news.example/</link>{items}</channel></rss>"
    )


@pytest.fixture
def feed_server() -> Iterator[LoopbackServer]:
    with LoopbackServer("127.0.0.1") as server:
        yield server


async def test_a_feed_with_a_keep_filter_stores_only_matching_items(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    admin: Staff,
    feed_server: LoopbackServer,
) -> None:
    feed_server.route(
        "/feed.xml",
        Reply.text(
            _feed(
                "Storing bij de Fietsbaan-app",
                "Fiëtsbaan zoekt een vacature-invuller",
                "Nieuwe FIETSBAAN in Utrecht",
                "Weerbericht voor morgen",
            ),
            content_type="application/rss+xml",
        ),
    )
    keep = "(fietsbaan OR storing*) -vacature*"
    made = await client.post(
        "/api/v1/sources",
        json={
            "kind": "rss",
            "name": "nieuws",
            "config": {"url": feed_server.url("/feed.xml"), "keep": keep},
        },
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["config"]["keep"] == keep

    async with make_client(settings) as guarded:
        outcome = await poll_source(
            sessions, source_id=made.json()["id"], settings=settings, client=guarded
        )
    assert outcome.ok and outcome.report is not None
    async with sessions() as session:
        texts = sorted((await session.execute(select(Mention.text))).scalars())
    assert len(texts) == 2
    assert texts[0].startswith("Nieuwe FIETSBAAN in Utrecht")
    assert texts[1].startswith("Storing bij de Fietsbaan-app")


@pytest.mark.parametrize(
    ("keep", "detail"),
    [
        ("(storing AND lang:", "config.keep: column 19: expected a value after lang:"),
        ("storing sentiment:negative", "config.keep: column 9: sentiment: cannot be used here"),
    ],
)
async def test_a_keep_filter_that_cannot_be_used_is_a_422_naming_the_column(
    client: httpx.AsyncClient, admin: Staff, keep: str, detail: str
) -> None:
    answer = await client.post(
        "/api/v1/sources",
        json={
            "kind": "rss",
            "name": "nieuws",
            "config": {"url": "https://news.example/feed", "keep": keep},
        },
        headers=admin.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(detail)
    made = await client.post(
        "/api/v1/sources",
        json={"kind": "rss", "name": "nieuws", "config": {"url": "https://news.example/feed"}},
        headers=admin.headers,
    )
    changed = await client.patch(
        f"/api/v1/sources/{made.json()['id']}",
        json={"config": {"keep": keep}},
        headers=admin.headers,
    )
    assert changed.status_code == 422
    assert changed.json()["detail"].startswith(detail)

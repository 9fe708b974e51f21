"""Full-text search: one API over PostgreSQL text search and SQLite FTS5, kept in sync."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.models import Mention, Role
from listener.sources.ingest import ingest_mentions
from moderation.queue.search import fts5_query
from tests.conftest import MakeStaff, Staff
from tests.factories import mention


def test_web_search_syntax_becomes_fts5_that_user_text_cannot_break() -> None:
    assert fts5_query("app down") == '("app" AND "down")'
    assert fts5_query('"bike lane" -test') == '(("bike lane") NOT ("test"))'
    # A word matches as written or as its Dutch or English Snowball stem.
    assert fts5_query("storing OR outage") == (
        '(("storing" OR "store" OR "stoor")) OR (("outage" OR "outag"))'
    )
    assert fts5_query("pay*") == '("pay"*)'
    assert fts5_query('NEAR(a b) AND "x') == '("near a" AND "b" AND "and" AND "x")'
    assert fts5_query("-only") is None
    assert fts5_query("!!!") is None


@pytest.fixture
async def reader(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ANALYST)


@pytest.fixture
async def stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    items = {
        "crash": mention(1, text="The app keeps crashing when I pay", language="en"),
        "lane": mention(2, text="New bike lane on the Maliebaan is great", language="en"),
        "storing": mention(
            3,
            text="Weer een storing bij de fietsenstalling",
            language="nl",
            platform="reddit",
            source="reddit-nl",
            external_id="t3_nl1",
        ),
        "other": mention(4, text="Unrelated chatter about lunch", language=None),
    }
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, list(items.values()))
    return dict(zip(items, report.new_mention_ids, strict=True))


async def _search(client: httpx.AsyncClient, staff: Staff, q: str, **params: str) -> list[int]:
    page = await client.get("/api/v1/search", params={"q": q, **params}, headers=staff.headers)
    assert page.status_code == 200, page.text
    return [m["id"] for m in page.json()["items"]]


async def test_search_matches_stemmed_words_phrases_and_exclusions(
    client: httpx.AsyncClient, reader: Staff, stored: dict[str, int]
) -> None:
    assert await _search(client, reader, "crashes") == [stored["crash"]]
    assert await _search(client, reader, '"bike lane"') == [stored["lane"]]
    assert await _search(client, reader, "storing") == [stored["storing"]]
    assert sorted(await _search(client, reader, "crash OR storing")) == sorted(
        [stored["crash"], stored["storing"]]
    )
    assert await _search(client, reader, "app -pay") == []
    assert await _search(client, reader, "lunch", language="nl") == []


async def test_the_index_follows_edits_and_deletions(
    client: httpx.AsyncClient,
    reader: Staff,
    stored: dict[str, int],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Mention).where(Mention.id == stored["lane"]).values(text="Tram delayed again")
        )
        await session.execute(delete(Mention).where(Mention.id == stored["crash"]))
    assert await _search(client, reader, "lane") == []
    assert await _search(client, reader, "tram") == [stored["lane"]]
    assert await _search(client, reader, "crashing") == []


@pytest.mark.backend("postgresql")  # SQLite's FTS5 stems with Porter (English) for every language
async def test_dutch_mentions_are_stemmed_as_dutch_on_postgresql(
    client: httpx.AsyncClient, reader: Staff, stored: dict[str, int]
) -> None:
    # Dutch snowball: "fietsenstallingen" and "fietsenstalling" share a stem.
    assert await _search(client, reader, "fietsenstallingen") == [stored["storing"]]


@pytest.mark.backend("postgresql")  # the GIN index is PostgreSQL's
async def test_postgresql_answers_searches_from_the_gin_index(
    engine: AsyncEngine, stored: dict[str, int]
) -> None:
    from sqlalchemy import select

    from moderation.queue.search import match_condition

    query = select(Mention.id).where(match_condition("postgresql", "storing"))
    sql = str(query.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
    async with engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in await conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_mentions_search" in plan


async def test_a_dutch_plural_finds_its_singular_on_both_databases(
    client: httpx.AsyncClient, reader: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    items = [
        mention(11, text="Weer een storing in de app", language="nl"),
        mention(12, text="Twee storingen vandaag", language="nl"),
        mention(13, text="Storingsvrij weekend, eindelijk", language="nl"),
        mention(14, text="Unrelated chatter about lunch", language="en"),
    ]
    async with sessions() as session, session.begin():
        ids = (await ingest_mentions(session, items)).new_mention_ids

    assert sorted(await _search(client, reader, "storingen")) == sorted(ids[:2])
    assert sorted(await _search(client, reader, "storing")) == sorted(ids[:2])

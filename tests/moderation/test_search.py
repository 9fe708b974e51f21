"""Full-text search: one API over PostgreSQL text search and SQLite FTS5, kept in sync."""

from __future__ import annotations

import os
from pathlib import Path

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


async def _relevance_pages(client: httpx.AsyncClient, staff: Staff, q: str) -> list[list[int]]:
    """Every page of a relevance search, two mentions a page, following the cursors."""
    pages: list[list[int]] = []
    params = {"q": q, "sort": "relevance", "limit": "2"}
    while True:
        page = await client.get("/api/v1/search", params=params, headers=staff.headers)
        assert page.status_code == 200, page.text
        pages.append([m["id"] for m in page.json()["items"]])
        if not page.json()["next_cursor"]:
            return pages
        params["cursor"] = page.json()["next_cursor"]


async def _assert_relevance_ranks_and_pages(
    client: httpx.AsyncClient, reader: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    items = [
        mention(21, text="I asked about a refund weeks ago and have heard nothing since then"),
        mention(22, text="Refund, refund, refund! Where is my refund?"),
        # Five equal matches: ties must still page without repeats or gaps.
        *(mention(30 + i, text=f"refund please {'x' * i}") for i in range(5)),
        mention(40, text="Nothing to see here"),
    ]
    async with sessions() as session, session.begin():
        ids = (await ingest_mentions(session, items)).new_mention_ids
    pages = await _relevance_pages(client, reader, "refund")
    found = [i for page in pages for i in page]
    # The mention that is all about refunds comes first; every match exactly once.
    assert found[0] == ids[1]
    assert sorted(found) == sorted(ids[:7])
    assert [len(page) for page in pages] == [2, 2, 2, 1]


async def test_relevance_puts_the_best_match_first_and_pages_through_every_match(
    client: httpx.AsyncClient, reader: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _assert_relevance_ranks_and_pages(client, reader, sessions)


async def _rum_available(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'"))
        return found.first() is not None


@pytest.mark.backend("postgresql")  # RUM is a PostgreSQL extension
async def test_relevance_ranked_inside_a_rum_index_pages_the_same_way(
    client: httpx.AsyncClient,
    reader: Staff,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from moderation.queue.search import SearchIndexError, index_kind, ranks_in_index, use_index

    if not await _rum_available(engine):
        assert os.environ.get("CI") != "true", "CI's PostgreSQL has rum (.ci/run installs it)"
        async with sessions() as session, session.begin():
            with pytest.raises(SearchIndexError, match="postgresql-<major version>-rum"):
                await use_index(session, "rum")
        return
    async with sessions() as session, session.begin():
        assert await use_index(session, "rum") is True
    try:
        async with sessions() as session:
            assert await index_kind(session) == "rum"
            assert await ranks_in_index(session) is True
        await _assert_relevance_ranks_and_pages(client, reader, sessions)
        # The other searches are answered from the same index.
        assert await _search(client, reader, "refund -please") != []
        assert await _search(client, reader, '"where is my refund"') != []
    finally:
        async with sessions() as session, session.begin():
            await use_index(session, "gin")
    async with sessions() as session:
        assert await index_kind(session) == "gin"


def test_db_search_index_shows_and_switches_the_index(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from api.cli.main import app
    from listener.settings import get_settings

    monkeypatch.setenv("LUISTER_DATABASE_URL", database_url)
    monkeypatch.setenv("LUISTER_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        shown = runner.invoke(app, ["db", "search-index"])
        assert shown.exit_code == 0, shown.output
        if database_url.startswith("sqlite"):
            assert shown.stdout.strip() == "fts5"
            refused = runner.invoke(app, ["db", "search-index", "rum"])
            assert refused.exit_code == 2
            assert "SQLite searches with FTS5" in refused.output
            return
        assert shown.stdout.strip() == "gin"
        wrong = runner.invoke(app, ["db", "search-index", "btree"])
        assert wrong.exit_code == 2
        assert "'btree' is not one of gin, rum" in wrong.output
        if "rum extension on this server: available" not in shown.output:
            assert os.environ.get("CI") != "true", "CI's PostgreSQL has rum (.ci/run installs it)"
            return
        try:
            switched = runner.invoke(app, ["db", "search-index", "rum"])
            assert switched.exit_code == 0, switched.output
            assert switched.stdout.strip() == "rum"
            assert "search index is now rum; restart" in switched.output
            again = runner.invoke(app, ["db", "search-index", "rum"])
            assert "search index was already rum" in again.output
        finally:
            back = runner.invoke(app, ["db", "search-index", "gin"])
        assert back.exit_code == 0, back.output
        assert back.stdout.strip() == "gin"
    finally:
        get_settings.cache_clear()


@pytest.mark.backend("postgresql")  # the three text search configurations are PostgreSQL's
@pytest.mark.parametrize(
    ("words", "query"),
    [
        ("refund", "'refund'"),  # all three alike: once, not three times
        ("outage", "'outag' | 'outage'"),  # english and dutch alike
        ("walking", "'walk' | 'walking'"),  # dutch and simple alike
        ("fietsen", "'fietsen' | 'fiets'"),  # english and simple alike
        ("de houses", "'de' & 'hous' | 'houses' | 'de' & 'houses'"),  # all different
    ],
)
async def test_a_search_is_matched_once_per_distinct_parse(
    engine: AsyncEngine, words: str, query: str
) -> None:
    """Each copy of a query in the OR is matched and ranked again, so duplicates are left out."""
    from sqlalchemy import select

    from moderation.queue.search import pg_query

    async with engine.connect() as conn:
        parsed = (await conn.execute(select(pg_query(words)))).scalar_one()
    assert parsed == query


async def test_quotes_and_sql_in_a_search_are_only_words(
    client: httpx.AsyncClient, reader: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """PostgreSQL gets the search written into the statement (so it plans with the words'
    real frequency): quotes, backslashes and SQL in it must stay text."""
    async with sessions() as session, session.begin():
        ids = (
            await ingest_mentions(session, [mention(51, text="It's broken again, can't log in")])
        ).new_mention_ids
    for hostile in ("'); DROP TABLE mentions; --", "\\' OR 1=1 --", "$1 %s :search_q ?", "'''"):
        for sort in ("newest", "relevance", "priority"):
            assert await _search(client, reader, hostile, sort=sort) == []
    assert await _search(client, reader, "'broken'") == ids
    assert await _search(client, reader, "broken", sort="relevance") == ids

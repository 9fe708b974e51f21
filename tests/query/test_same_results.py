"""The query language gives the same answer three ways: PostgreSQL, SQLite and in memory.

One generated set of mentions (case and accent variants, hyphens, links, authors with and
without follower counts, unknown languages and sentiments) is stored once per database; then
Hypothesis generates queries over the same vocabulary, and for each the database's WHERE clause
and the in-memory matcher must select exactly the same mentions. Both backends are held to the
matcher, so they are held to each other.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from listener.db import make_engine
from listener.models import Author, Base, Mention, MentionTopic, Source, Topic
from listener.query import MentionFacts, QuerySyntaxError, matches, parse, render, where_clause

WORDS = [
    "fiets", "Fiëts", "FIETSEN", "fietspad", "storing", "Storingen", "stóring", "trein",
    "app", "e-mail", "email", "straße", "strasse", "café", "CAFE", "kapot", "pad", "niet",
    "and", "or", "not", "near", "ﬁets", "naïve", "2026", "wifi_4", "über",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", ", ", "! ", " - ", "-", "\n", " (", ") "]
LINKS = ["https://fiets.example/a", "HTTP://X.EXAMPLE", "http:/broken", "zie: www.example.nl"]
HANDLES = ["@jan", "Jan", "@anna@mastodon.social", "ANNA", "annabel", None]
FOLLOWERS = [None, 0, 999, 1000, 1001, 50_000]
LANGUAGES = [None, "nl", "en", "nl-BE", "de"]
PLATFORMS = ["mastodon", "reddit", "rss"]
SENTIMENTS = [None, "positive", "neutral", "negative"]
INTENTS = ["complaint", "question", "praise"]
TOPICS = ["Storingen", "App", "openbaar vervoer"]
SOURCES = {1: "press-feed", 2: "Mastodon-Search"}
START = datetime(2026, 10, 28, tzinfo=UTC)

FIELD_QUERIES = [
    "lang:nl", "lang:en", "lang:NL", "lang:de", "platform:mastodon", "platform:Reddit",
    "source:1", "source:2", "source:press-feed", "source:MASTODON-SEARCH", "sentiment:positive",
    "sentiment:neutral", "sentiment:negative", "intent:complaint", "intent:question",
    "topic:storingen", 'topic:"openbaar vervoer"', "topic:App", "has:link", "followers:>1000",
    "followers:>=1000", "followers:<1000", "followers:<=999", "followers:=0", "followers:50000",
    "after:2026-11-01", "before:2026-11-01", "after:2026-11-03T12:00:00+01:00", "author:jan",
    "author:@Anna", "author:anna@mastodon.social", "author:annabel",
]  # fmt: skip


def _mentions(rng: random.Random, count: int) -> list[dict[str, object]]:
    made = []
    for n in range(count):
        parts = [rng.choice(WORDS) for _ in range(rng.randint(0, 10))]
        if rng.random() < 0.2:
            parts.insert(rng.randint(0, len(parts)), rng.choice(LINKS))
        body = "".join(p + rng.choice(SEPARATORS) for p in parts).strip() or "!!!"
        author = rng.randrange(len(HANDLES) + 1)  # the last: no author
        made.append(
            {
                "id": n + 1,
                "text": body,
                "author": None if author == len(HANDLES) else author,
                "language": rng.choice(LANGUAGES),
                "platform": rng.choice(PLATFORMS),
                "source_id": rng.choice(list(SOURCES)),
                "sentiment": rng.choice(SENTIMENTS),
                "intents": rng.sample(INTENTS, rng.randint(0, 2)),
                "topics": rng.sample(TOPICS, rng.randint(0, 2)),
                # Some exactly at midnight: after: and before: meet there.
                "created_at": START + timedelta(hours=rng.randint(0, 14 * 24)),
            }
        )
    return made


def _facts(row: dict[str, object]) -> MentionFacts:
    author = row["author"]
    return MentionFacts(
        text=str(row["text"]),
        created_at=row["created_at"],  # type: ignore[arg-type]
        platform=str(row["platform"]),
        language=row["language"],  # type: ignore[arg-type]
        source_id=row["source_id"],  # type: ignore[arg-type]
        source_name=SOURCES[row["source_id"]],  # type: ignore[index]
        author_handle=None if author is None else HANDLES[author],  # type: ignore[index]
        author_followers=None if author is None else FOLLOWERS[author],  # type: ignore[index]
        sentiment=row["sentiment"],  # type: ignore[arg-type]
        intents=tuple(row["intents"]),  # type: ignore[arg-type]
        topics=tuple(row["topics"]),  # type: ignore[arg-type]
    )


async def _fill(engine: AsyncEngine, rows: list[dict[str, object]]) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))
    async with engine.begin() as conn:
        await conn.execute(
            insert(Source), [{"id": i, "kind": "rss", "name": n} for i, n in SOURCES.items()]
        )
        await conn.execute(
            insert(Author),
            [
                {"id": i + 1, "platform": "mastodon", "platform_id": f"a{i}", "handle": h,
                 "followers": f}
                for i, (h, f) in enumerate(zip(HANDLES, FOLLOWERS, strict=True))
            ],
        )  # fmt: skip
        await conn.execute(insert(Topic), [{"id": i + 1, "name": n} for i, n in enumerate(TOPICS)])
        await conn.execute(
            insert(Mention),
            [
                {
                    "id": row["id"],
                    "source_id": row["source_id"],
                    "external_id": f"m{row['id']}",
                    "platform": row["platform"],
                    "author_id": None if row["author"] is None else int(row["author"]) + 1,  # type: ignore[call-overload]
                    "text": row["text"],
                    "language": row["language"],
                    "created_at": row["created_at"],
                    "fingerprint": "x",
                    "sentiment_label": row["sentiment"],
                    "intents": row["intents"],
                }
                for row in rows
            ],
        )
        await conn.execute(
            insert(MentionTopic),
            [
                {"mention_id": row["id"], "topic_id": TOPICS.index(name) + 1}
                for row in rows
                for name in row["topics"]  # type: ignore[attr-defined]
            ],
        )


def _prefix(word: str) -> str:
    return word[: max(1, len(word) // 2)] + "*"


_word = st.sampled_from(WORDS)
_term = st.one_of(
    _word,
    _word.map(_prefix),
    st.tuples(_word, _word).map(lambda t: f'"{t[0]} {t[1]}"'),
)
_near = st.tuples(_term, st.integers(1, 4), _term).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}")
_atom = st.one_of(_term, _term, _near, st.sampled_from(FIELD_QUERIES))
# Characters a user types into a query box, operators and field names among them.
TYPED = st.sampled_from([*'ab fë"()-*:/<>=_\n', "NEAR/2 ", " AND ", " OR ", "NOT ", "lang:"])
QUERIES = st.recursive(
    _atom,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]} AND {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} {t[1]}"),
        inner.map(lambda q: f"NOT ({q})"),
        inner.map(lambda q: f"-({q})"),
    ),
    max_leaves=5,
)


def test_postgresql_sqlite_and_the_matcher_select_the_same_mentions(database_url: str) -> None:
    rows = _mentions(random.Random(15), 300)
    facts = {int(row["id"]): _facts(row) for row in rows}  # type: ignore[call-overload]
    sizes: Counter[str] = Counter()
    with asyncio.Runner() as runner:
        engine = make_engine(database_url)
        try:
            runner.run(_fill(engine, rows))
            dialect = engine.dialect.name

            async def selected(query: str) -> set[int]:
                clause = where_clause(parse(query), dialect=dialect)
                async with engine.connect() as conn:
                    return set((await conn.execute(select(Mention.id).where(clause))).scalars())

            @settings(
                max_examples=60,
                deadline=None,
                derandomize=True,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(query=QUERIES)
            def same(query: str) -> None:
                node = parse(query)
                assert parse(render(node)) == node, "rendering must read back the same query"
                expected = {i for i, f in facts.items() if matches(node, f)}
                assert runner.run(selected(query)) == expected, query
                sizes["none" if not expected else "all" if len(expected) == 300 else "some"] += 1

            same()

            @settings(max_examples=40, deadline=None, derandomize=True)
            @given(query=st.one_of(st.text(max_size=40), TYPED))
            def typed(query: str) -> None:
                # Whatever is typed either reads as a query or is refused with a column.
                try:
                    node = parse(query)
                except QuerySyntaxError as exc:
                    assert 1 <= exc.column <= len(query) + 1 and exc.expected
                    sizes["refused"] += 1
                    return
                expected = {i for i, f in facts.items() if matches(node, f)}
                assert runner.run(selected(query)) == expected, query

            typed()
        finally:
            runner.run(engine.dispose())
    # The queries told mentions apart: most selected some but not all of them.
    assert sizes["some"] > sizes["none"] + sizes["all"], sizes
    assert sizes["refused"] > 5, sizes

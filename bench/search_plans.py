"""Newest-first search for a rare and a common word: the search written into the statement (what
Luister sends, moderation.queue.search.pg_query) against the same search as a parameter under
PostgreSQL's generic plan (what a prepared statement falls back to after five runs).

Run: python -m bench.search_plans [--rows 500000] [--words 50000]
Builds, in its own database (luister_bench_search_plans), a table of posts of 12 words each,
drawn from a vocabulary of `--words` words with a Zipf-like (log-uniform rank) distribution, as
real text has, with a GIN index on the words and a B-tree on the time, then ANALYZEs it. With
a parameter the planner cannot know how common the word is and assumes every search matches
0.5% of the posts: for a rare word it walks the newest posts one by one looking for matches.
Prints, for each word, the matches, the median of 5 runs each way and the ratio.
Uses LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.ingest import admin_url, fresh_database
from listener.db import make_engine

DATABASE = "luister_bench_search_plans"
BUILD = (
    "CREATE TABLE posts (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, "
    "words tsvector NOT NULL)",
    "INSERT INTO posts (created_at, words) SELECT now() - g * interval '1 second', "
    "to_tsvector('simple', (SELECT string_agg('w' || floor(exp(random() * ln(:words)))::int, ' ') "
    "FROM generate_series(1, 12) WHERE g > 0)) FROM generate_series(1, :rows) AS g",
    "CREATE INDEX ON posts USING gin (words)",
    "CREATE INDEX ON posts (created_at, id)",
    "ANALYZE posts",
)
NEWEST = "FROM posts WHERE words @@ {query} ORDER BY created_at DESC, id DESC LIMIT 51"


async def _timed(conn: AsyncConnection, sql: str, **params: str) -> float:
    """Median seconds of 5 runs of `sql`."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        await conn.execute(text(sql), params)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--words", type=int, default=50_000)
    args = parser.parse_args()
    url = await fresh_database(admin_url(), DATABASE)
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        started = time.perf_counter()
        for statement in BUILD:
            await conn.execute(text(statement), {"rows": args.rows, "words": args.words})
        print(
            f"built {args.rows:,} posts of 12 words from {args.words:,} words "
            f"in {time.perf_counter() - started:.1f} s"
        )
        await conn.execute(text("SET jit = off"))
        await conn.execute(text("SET plan_cache_mode = force_generic_plan"))
        # Sent as a parameter, the statement is prepared once with $1 (as asyncpg does), and
        # the setting makes PostgreSQL use its generic plan from the first run, not the sixth.
        by_parameter = "SELECT id " + NEWEST.format(query="to_tsquery('simple', :w)")
        # The rarest word with a few matches, and the most common one.
        for word in (f"w{int(args.words * 0.8)}", "w3"):
            matches = (
                await conn.execute(
                    text("SELECT count(*) FROM posts WHERE words @@ to_tsquery('simple', :w)"),
                    {"w": word},
                )
            ).scalar_one()
            constant = NEWEST.format(query=f"to_tsquery('simple', '{word}')")
            written_in = await _timed(conn, f"SELECT id {constant}")
            as_parameter = await _timed(conn, by_parameter, w=word)
            print(
                f"{word:>7} ({matches:,} matches): written in {written_in * 1000:7.2f} ms, "
                f"as a parameter {as_parameter * 1000:7.2f} ms "
                f"({as_parameter / written_in:.0f}x slower)"
            )
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())

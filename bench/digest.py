"""Digest build time for a week of 1,000,000 mentions, against a bare COUNT(*) of that week.

Run: python bench/digest.py [--rows 1000000] [--history 0.5] [--repeat 2] [--reuse]
The week 2026-W47 (Europe/Amsterdam) gets `--rows` mentions; the four weeks before it get
`--history` times as many between them, so the baselines have data. Rows are made inside
PostgreSQL with INSERT ... SELECT generate_series (not through ingest): sentiment, intents,
topics, authors, queue states and answered-status audit entries included.
Prints the build time (each run), Python's peak traced memory during the build, the process's
peak RSS, and the bare COUNT(*) of the same week measured in the same run, with the ratio.
Uses LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local PostgreSQL;
it works in its own database (luister_bench_digest), created afresh next to the one named;
--reuse keeps an existing one whose week holds the same number of mentions.
"""

# ruff: noqa: E402  (the imports follow the sys.path repair below)

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is first on sys.path, and bench/queue.py would shadow the standard
# library's queue module (which asyncio's thread pool needs).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import os
import resource
import statistics
import time
import tracemalloc
from typing import Any

from sqlalchemy import ColumnDefault, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from listener import migrate
from listener.db import make_engine, make_sessionmaker
from listener.digest.builder import build_digest
from listener.digest.periods import Period
from listener.models import Base, Mention

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DATABASE = "luister_bench_digest"
WEEK = Period.week("2026-W47", "Europe/Amsterdam")
AUTHORS = 50_000
TOPICS = ["app", "outage", "pricing", "service", "bikes", "docks", "ebike", "plus", "city", "jobs"]

# One statement per table; :n rows spread evenly over [:start, :end).
_MENTIONS = """
INSERT INTO mentions (source_id, external_id, platform, author_id, url, text, language,
    created_at, fetched_at, updated_at, likes, reposts, replies, fingerprint,
    sentiment_label, sentiment_score, intents, nlp_version{cols})
SELECT 1 + i % 5, :prefix || i, (ARRAY['mastodon','reddit','bluesky','rss','lemmy'])[1 + i % 5],
    1 + (i::bigint * 7919) % :authors, 'https://social.example/' || :prefix || i,
    'Fietsbaan ' || (ARRAY['app werkt niet', 'docks kapot bij Centraal', 'fijne rit vandaag',
        'prijs van Plus omhoog', 'new e-bike is great', 'outage again this morning',
        'klantenservice reageert snel', 'waar is mijn fiets'])[1 + i % 8]
        || ' #tag' || (i % 50) || CASE WHEN i % 97 = 0 THEN ' #storing' ELSE '' END,
    (ARRAY['nl', 'en', 'nl', 'de'])[1 + i % 4],
    CAST(:start AS timestamptz) + (i * (:span / :n)) * interval '1 second', now(), now(),
    i % 17, i % 5, i % 3, md5(i::text),
    (ARRAY['positive', 'neutral', 'negative', 'neutral', 'positive'])[1 + i % 5],
    ((i % 200) - 100) / 100.0,
    CASE WHEN i % 20 = 0 THEN '["question"]'::jsonb ELSE '[]'::jsonb END, 'bench'{vals}
FROM generate_series(0, :n - 1) AS i
"""
_QUEUE = """
INSERT INTO queue_items (mention_id, status, priority, version, status_changed_at,
    updated_at{cols})
SELECT id, CASE WHEN id % 40 = 0 THEN 'answered' WHEN id % 7 = 0 THEN 'resolved' ELSE 'new' END,
    0, 1, created_at, created_at{vals}
FROM mentions
"""
_TOPICS = """
INSERT INTO mention_topics (mention_id, topic_id, spans{cols})
SELECT id, 1 + id % 10, '[]'::jsonb{vals} FROM mentions WHERE id % 5 <> 0
UNION ALL
SELECT id, 1 + (id / 7) % 10, '[]'::jsonb{vals} FROM mentions
WHERE id % 10 = 1 AND (id / 7) % 10 <> id % 10
"""
_AUDIT = """
INSERT INTO audit_log (mention_id, entity, entity_id, action, actor, before, after,
    created_at{cols})
SELECT id, 'mention', id::text, 'status', 'mod-' || (id % 6),
    '{{"status": "new"}}'::jsonb, '{{"status": "answered"}}'::jsonb,
    created_at + ((id % 720) * interval '1 minute'){vals}
FROM mentions WHERE id % 40 = 0
"""


def _with_defaults(statement: str, table: str) -> tuple[str, dict[str, Any]]:
    """Fill in required columns the statement does not name, from the models' defaults.

    Other features add NOT NULL columns with Python-side defaults (e.g. a timestamp); an
    INSERT ... SELECT does not run those, so they are evaluated once here and bound.
    """
    named = statement.split("(", 1)[1].split(")", 1)[0]
    given = {c.strip() for c in named.replace("{cols}", "").split(",")}
    cols, vals, params = "", "", {}
    for column in Base.metadata.tables[table].columns:
        if column.name in given or column.nullable or column.server_default is not None:
            continue
        if column.primary_key and column.autoincrement in (True, "auto"):
            continue
        default = column.default
        if not isinstance(default, ColumnDefault):
            continue
        value = default.arg(None) if default.is_callable else default.arg
        key = f"default_{column.name}"
        cols += f", {column.name}"
        vals += f", :{key}"
        params[key] = value
    return statement.format(cols=cols, vals=vals), params


async def _fresh_database(admin_url: str) -> str:
    url = make_url(admin_url)
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    await engine.dispose()
    return url.set(database=DATABASE).render_as_string(hide_password=False)


async def populate(engine: AsyncEngine, *, rows: int, history: float) -> float:
    """Fill the database; return the seconds it took."""
    began = time.perf_counter()
    async with engine.begin() as conn:
        for i, name in enumerate(("mastodon", "reddit", "bluesky", "rss", "lemmy"), start=1):
            await conn.execute(
                text("INSERT INTO sources (id, kind, name, config, cursor, enabled, "
                     "poll_interval_seconds, consecutive_failures, total_polls, created_at, "
                     "updated_at) VALUES (:i, :k, :n, '{}', '{}', false, 300, 0, 0, now(), now())"),
                {"i": i, "k": name, "n": f"bench-{name}"},
            )  # fmt: skip
        for i, topic in enumerate(TOPICS, start=1):
            await conn.execute(
                text("INSERT INTO topics (id, name, keywords, created_at) "
                     "VALUES (:i, :n, '{}', now())"),
                {"i": i, "n": topic},
            )  # fmt: skip
        await conn.execute(
            text(
                "INSERT INTO authors (platform, platform_id, handle, followers, first_seen_at, "
                "last_seen_at) SELECT 'mastodon', 'u' || i, '@user' || i, (i * 37) % 100000, "
                "now(), now() FROM generate_series(1, :n) AS i"
            ),
            {"n": AUTHORS},
        )
        spans = [(WEEK.start, WEEK.end, rows, "w")]
        earlier = WEEK.shifted(-4)
        if history > 0:
            spans.append((earlier.start, WEEK.start, int(rows * history), "h"))
        for start, end, n, prefix in spans:
            statement, defaults = _with_defaults(_MENTIONS, "mentions")
            await conn.execute(
                text(statement),
                {
                    **defaults,
                    "n": n,
                    "start": start,
                    "span": (end - start).total_seconds(),
                    "prefix": prefix,
                    "authors": AUTHORS,
                },
            )
        for template, table in (
            (_QUEUE, "queue_items"),
            (_TOPICS, "mention_topics"),
            (_AUDIT, "audit_log"),
        ):
            statement, defaults = _with_defaults(template, table)
            await conn.execute(text(statement), defaults)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - began


async def _holds(engine: AsyncEngine, rows: int) -> bool:
    """Whether the bench database exists and its week holds `rows` mentions."""
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                select(func.count())
                .select_from(Mention)
                .where(Mention.created_at >= WEEK.start, Mention.created_at < WEEK.end)
            )
            return found.scalar_one() == rows
    except Exception:  # no such database yet, or an older schema
        return False


async def time_count(engine: AsyncEngine, repeat: int) -> float:
    """Median seconds of a bare COUNT(*) over the week's mentions."""
    stmt = (
        select(func.count())
        .select_from(Mention)
        .where(Mention.created_at >= WEEK.start, Mention.created_at < WEEK.end)
    )
    timings = []
    async with engine.connect() as conn:
        for _ in range(repeat):
            began = time.perf_counter()
            (await conn.execute(stmt)).scalar_one()
            timings.append(time.perf_counter() - began)
    return statistics.median(timings)


async def time_build(engine: AsyncEngine) -> tuple[float, int, int]:
    """Seconds to build the week's digest, its mention count, and peak traced bytes."""
    sessions = make_sessionmaker(engine)
    tracemalloc.start()
    began = time.perf_counter()
    async with sessions() as session:
        data = await build_digest(session, period=WEEK)
    elapsed = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, data.volume.total, peak


async def main() -> None:
    """Populate, then time the count and the builds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="mentions in the week")
    parser.add_argument("--history", type=float, default=0.5, help="earlier weeks, as a share")
    parser.add_argument("--repeat", type=int, default=2, help="digest builds to time")
    parser.add_argument("--reuse", action="store_true", help="keep a database of the same size")
    args = parser.parse_args()
    admin = os.environ.get("LUISTER_BENCH_DATABASE_URL") or os.environ.get(
        "LUISTER_TEST_DATABASE_URL", DEFAULT_URL
    )
    url = make_url(admin).set(database=DATABASE).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        if args.reuse and await _holds(engine, args.rows):
            # A kept database gets the current schema (new indexes included), not new rows.
            await asyncio.to_thread(migrate.upgrade, url)
            print(f"reusing {args.rows:,} mentions in {WEEK.label} ({DATABASE})")
        else:
            await engine.dispose()
            url = await _fresh_database(admin)
            await asyncio.to_thread(migrate.upgrade, url)
            engine = make_engine(url)
            filled = await populate(engine, rows=args.rows, history=args.history)
            print(f"populated {args.rows:,} mentions in {WEEK.label} "
                  f"(+{args.history:.0%} before) in {filled:.1f} s")  # fmt: skip
        count = await time_count(engine, repeat=5)
        builds = []
        for run in range(1, args.repeat + 1):
            elapsed, total, peak = await time_build(engine)
            builds.append(elapsed)
            print(f"digest build {run}: {elapsed:.2f} s for {total:,} mentions, "
                  f"peak Python memory {peak / 2**20:.1f} MiB")  # fmt: skip
        best = min(builds)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"bare COUNT(*) of the week: {count * 1000:.1f} ms (median of 5)")
        print(f"digest build (best of {len(builds)}): {best:.2f} s = {best / count:.0f}x the "
              f"bare COUNT(*); process peak RSS {rss:.0f} MiB")  # fmt: skip
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())

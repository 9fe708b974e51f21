"""Ingest throughput: `ingest_mentions` against a plain bulk INSERT of the same rows.

Run: python bench/ingest.py [--count 100000] [--batch 1000] [--no-tag]
By default the first ingest tags every mention (language, sentiment, intents, topics) and a
second run on an emptied database measures the same ingest without tagging; `--no-tag` skips
the tagged run. The platform gives each mention's language, as most connectors do.
Uses LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local PostgreSQL;
it works in its own database (luister_bench), created afresh next to the one named.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.items import MentionIn
from listener import migrate
from listener.db import make_engine, make_sessionmaker
from listener.models import Author, Base, Mention, QueueItem, Source
from listener.sources.ingest import _mention_values, ingest_mentions

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def generate(count: int) -> list[MentionIn]:
    """`count` realistic mentions from 5,000 authors across three sources."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for i in range(count):
        platform = ("mastodon", "reddit", "bluesky")[i % 3]
        items.append(
            MentionIn.model_validate(
                {
                    "platform": platform,
                    "source": f"bench-{platform}",
                    "external_id": f"{platform}-{i}",
                    "url": f"https://{platform}.example/post/{i}",
                    "text": f"Fietsbaan post {i}: the e-bike at dock {i % 300} needs air again",
                    "language": "en" if i % 2 else "nl",
                    "created_at": start + timedelta(seconds=i * 7),
                    "author": {
                        "platform_id": f"user-{i % 5000}",
                        "handle": f"@user{i % 5000}",
                        "followers": i % 5000,
                    },
                    "engagement": {"likes": i % 17, "reposts": i % 5, "replies": i % 3},
                }
            )
        )
    return items


async def _fresh_database(admin_url: str) -> str:
    url = make_url(admin_url)
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text('DROP DATABASE IF EXISTS "luister_bench" WITH (FORCE)'))
        await conn.execute(text('CREATE DATABASE "luister_bench"'))
    await engine.dispose()
    return url.set(database="luister_bench").render_as_string(hide_password=False)


async def _truncate(engine: AsyncEngine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def run_ingest(
    engine: AsyncEngine, items: list[MentionIn], batch: int, *, tag: bool = True
) -> tuple[float, dict]:
    """Seconds to push `items` through ingest_mentions, and the summed counts."""
    sessions = make_sessionmaker(engine)
    totals = {"new": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    started = time.perf_counter()
    for i in range(0, len(items), batch):
        async with sessions() as session, session.begin():
            report = await ingest_mentions(session, items[i : i + batch], tag=tag)
        for key, value in report.counts().items():
            totals[key] += value
    return time.perf_counter() - started, totals


async def run_plain_insert(engine: AsyncEngine, items: list[MentionIn], batch: int) -> float:
    """Seconds for a bare bulk INSERT of the same mention rows (sources and authors made first)."""
    await _truncate(engine)
    async with engine.begin() as conn:
        names = sorted({item.source or "" for item in items})
        for name in names:
            await conn.execute(
                insert(Source).values(
                    name=name,
                    kind=name.split("-")[1],
                    config={},
                    cursor={},
                    enabled=False,
                    poll_interval_seconds=300,
                    consecutive_failures=0,
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
            )
        authors = {(i.platform, i.author.platform_id) for i in items if i.author}
        now = datetime.now(UTC)
        await conn.execute(
            insert(Author),
            [
                {"platform": p, "platform_id": a, "first_seen_at": now, "last_seen_at": now}
                for p, a in sorted(authors)
            ],
        )
        source_ids = dict((await conn.execute(text("SELECT name, id FROM sources"))).all())
        author_ids = {
            (p, a): i
            for i, p, a in (
                await conn.execute(text("SELECT id, platform, platform_id FROM authors"))
            ).all()
        }
    rows = []
    for item in items:
        assert item.author is not None
        values = _mention_values(
            item,
            source_id=source_ids[item.source],
            author_id=author_ids[(item.platform, item.author.platform_id)],
        )
        rows.append({**values, "fetched_at": now, "updated_at": now, "intents": []})
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        async with engine.begin() as conn:
            ids = (
                (await conn.execute(insert(Mention).returning(Mention.id), rows[i : i + batch]))
                .scalars()
                .all()
            )
            await conn.execute(
                insert(QueueItem),
                [
                    {
                        "mention_id": m,
                        "status": "new",
                        "priority": 0,
                        "version": 1,
                        "status_changed_at": now,
                        "updated_at": now,
                    }
                    for m in ids
                ],
            )
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-tag", action="store_true", help="Only measure ingest untagged")
    args = parser.parse_args()

    admin_url = (
        os.environ.get("LUISTER_BENCH_DATABASE_URL")
        or os.environ.get("LUISTER_TEST_DATABASE_URL")
        or DEFAULT_URL
    )
    url = await _fresh_database(admin_url)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    items = generate(args.count)
    n = len(items)

    tag = not args.no_tag
    if tag:
        from listener.nlp.store import warm_up_tagger

        async with make_sessionmaker(engine)() as session:
            await warm_up_tagger(session)  # a worker builds its pipelines once, at start-up
    first_s, first = await run_ingest(engine, items, args.batch, tag=tag)
    # A live database has statistics (autovacuum analyzes within a minute of a bulk load);
    # without them the planner scans instead of using the id indexes and re-polls look 5x slower.
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
    again_s, again = await run_ingest(engine, items, args.batch, tag=tag)
    assert first["new"] == n and again["unchanged"] == n, (first, again)
    untagged_s = first_s
    if tag:
        await _truncate(engine)
        untagged_s, _ = await run_ingest(engine, items, args.batch, tag=False)
    plain_s = await run_plain_insert(engine, items, args.batch)
    await engine.dispose()

    print(f"mentions: {n:,} in batches of {args.batch} on PostgreSQL")
    label = "tagged" if tag else "untagged"
    print(f"ingest_mentions, first, {label:<8}: {n / first_s:10,.0f} mentions/s ({first_s:.2f} s)")
    if tag:
        print(
            f"ingest_mentions, first, untagged: {n / untagged_s:10,.0f} mentions/s "
            f"({untagged_s:.2f} s); tagging costs {first_s / untagged_s:.2f}x the time"
        )
    print(f"ingest_mentions, again (same): {n / again_s:10,.0f} mentions/s ({again_s:.2f} s)")
    print(f"plain bulk INSERT (baseline): {n / plain_s:10,.0f} mentions/s ({plain_s:.2f} s)")
    print(f"ratio first ingest / plain INSERT: {plain_s / first_s:.2f}x the baseline's rate")
    print(f"ratio re-ingest / plain INSERT   : {plain_s / again_s:.2f}x the baseline's rate")


if __name__ == "__main__":
    asyncio.run(main())

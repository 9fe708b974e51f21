"""Ingest throughput: `ingest_mentions` against a plain bulk INSERT of the same rows.

Run: python -m bench.ingest [--count 100000] [--batch 1000] [--no-tag] [--search-index rum]
Each run starts on an emptied database. Storage alone (a session factory without reactions):
the ingest tagging every mention (language, sentiment, intents, topics), the same untagged,
and a re-ingest of the same items. Then what users get: the wired session factory
(`api.wiring.session_factory`), whose reactions run on every batch (suppressions, the event
log, answers, own accounts, incidents, priority and SLA), tagged; `--no-tag` leaves the
tagged runs out. The wired run also times each reaction: seconds per 10k mentions.
The platform gives each mention's language, as most connectors do.
The baseline is a plain bulk INSERT of the same mention and queue rows (built outside the
clock), run before and after each ingest: each ratio is against the mean of its two
neighbours. The targets (issue 16) are judged on storage alone, as the baseline stores no
more; the wired figure is printed next to them.
Uses LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local PostgreSQL;
it works in its own database (luister_bench_ingest), created afresh next to the one named.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.wiring import session_factory
from connectors.items import MentionIn
from listener import migrate
from listener.db import make_engine, make_sessionmaker
from listener.models import Author, Base, Mention, QueueItem, Source
from listener.reactions import SESSION_KEY, MentionsChanged, MentionsHook, Reactions
from listener.settings import Settings
from listener.sources.ingest import _mention_values, ingest_mentions
from moderation.queue import search

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TARGET_TAGGED = 0.5  # issue 16: ingest with tagging >= 0.5x a plain bulk INSERT
TARGET_UNTAGGED = 0.8
SECRET = "bench-secret-that-is-long-enough-for-production-0123456789"


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


def _timed(hook: MentionsHook, name: str, spent: dict[str, float]) -> MentionsHook:
    async def timed(session: AsyncSession, change: MentionsChanged) -> None:
        started = time.perf_counter()
        try:
            await hook(session, change)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started

    return timed


def time_reactions(sessions: async_sessionmaker[AsyncSession]) -> dict[str, float]:
    """Time each reaction the factory's sessions run: seconds spent, by hook name."""
    info = sessions.kw["info"]
    reactions = info[SESSION_KEY]
    assert isinstance(reactions, Reactions)
    spent: dict[str, float] = {}
    info[SESSION_KEY] = Reactions(
        hooks=tuple((name, _timed(hook, name, spent)) for name, hook in reactions.hooks)
    )
    return spent


def admin_url() -> str:
    """The PostgreSQL server the benches work on: LUISTER_BENCH_DATABASE_URL, else
    LUISTER_TEST_DATABASE_URL, else the local server."""
    return (
        os.environ.get("LUISTER_BENCH_DATABASE_URL")
        or os.environ.get("LUISTER_TEST_DATABASE_URL")
        or DEFAULT_URL
    )


async def fresh_database(admin_url: str, name: str) -> str:
    """An empty database `name` on that server (made afresh), as a URL; each bench has its own,
    so benches may drop theirs meanwhile."""
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _truncate(engine: AsyncEngine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def run_ingest(
    engine: AsyncEngine,
    items: list[MentionIn],
    batch: int,
    *,
    tag: bool = True,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> tuple[float, dict[str, int]]:
    """Seconds to push `items` through ingest_mentions, and the summed counts.

    `sessions` defaults to a factory without reactions: storage alone.
    """
    sessions = sessions or make_sessionmaker(engine)
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
        source_ids: dict[str, int] = dict(
            (await conn.execute(text("SELECT name, id FROM sources"))).all()
        )
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
            source_id=source_ids[item.source or ""],
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


def search_index_option(parser: argparse.ArgumentParser) -> None:
    """--search-index: the full-text index the bench runs with (`luister db search-index`)."""
    parser.add_argument(
        "--search-index",
        choices=search.INDEX_KINDS,
        default="gin",
        help="PostgreSQL's full-text index: gin (the default) or rum (needs the rum extension)",
    )


async def use_search_index(engine: AsyncEngine, kind: str) -> None:
    """Switch the bench database's full-text index to `kind` and say which one runs."""
    async with make_sessionmaker(engine)() as session, session.begin():
        await search.use_index(session, kind)
    print(f"full-text index: {kind}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-tag", action="store_true", help="Only measure ingest untagged")
    search_index_option(parser)
    args = parser.parse_args()

    url = await fresh_database(admin_url(), "luister_bench_ingest")
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    await use_search_index(engine, args.search_index)
    settings = Settings(database_url=url, secret_key=SECRET, run_jobs=False)
    wired = session_factory(settings, engine)
    spent = time_reactions(wired)
    items = generate(args.count)
    n = len(items)
    tag = not args.no_tag

    if tag:
        from listener.nlp.store import warm_up_tagger

        for factory in (wired, make_sessionmaker(engine)):
            async with factory() as session:
                await warm_up_tagger(session)  # a worker builds its pipelines once, at start-up

    # The machine may be busy, and its load drifts: each ingest is timed between two plain
    # INSERTs and compared with their mean, so each ratio is taken from its neighbours.
    plain = [await run_plain_insert(engine, items, args.batch)]
    runs: dict[str, tuple[float, float]] = {}  # name: (seconds, baseline seconds)

    async def fresh(name: str, *, tag: bool, **kwargs: Any) -> None:
        await _truncate(engine)
        seconds, counts = await run_ingest(engine, items, args.batch, tag=tag, **kwargs)
        assert counts["new"] == n, counts
        runs[name] = (seconds, 0.0)

    async def compared(*names: str) -> None:
        plain.append(await run_plain_insert(engine, items, args.batch))
        for name in names:
            runs[name] = (runs[name][0], (plain[-2] + plain[-1]) / 2)

    if tag:
        await fresh("tagged", tag=True)
        await compared("tagged")
    await fresh("untagged", tag=False)
    # A live database has statistics (autovacuum analyzes within a minute of a bulk load);
    # without them the planner scans instead of using the id indexes.
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
    seconds, again = await run_ingest(engine, items, args.batch, tag=tag)
    assert again["unchanged"] == n, again
    runs["re-ingest"] = (seconds, 0.0)
    await compared("untagged", "re-ingest")
    if tag:
        spent.clear()  # the tagger's warm-up ran no reaction, but start from zero all the same
        await fresh("wired", tag=True, sessions=wired)
        await compared("wired")
    await engine.dispose()

    labels = {
        "tagged": "ingest, tagged, storage alone  ",
        "untagged": "ingest, untagged, storage alone",
        "re-ingest": "re-ingest of the same items    ",
        "wired": "ingest, tagged, wired (users)  ",
    }
    print(f"mentions: {n:,} in batches of {args.batch} on PostgreSQL")
    runs_s = ", ".join(f"{seconds:.2f}" for seconds in plain)
    print(f"plain bulk INSERT (baseline) runs: {runs_s} s")
    for name, (seconds, baseline) in runs.items():
        print(
            f"{labels[name]}: {n / seconds:8,.0f} mentions/s ({seconds:.2f} s), "
            f"{baseline / seconds:.2f}x the rate of the plain INSERTs around it "
            f"({n / baseline:,.0f} mentions/s)"
        )
    targets = {"tagged": TARGET_TAGGED, "untagged": TARGET_UNTAGGED}
    for name, target in targets.items():
        if name in runs:
            ratio = runs[name][1] / runs[name][0]
            verdict = "met" if ratio >= target else "MISSED"
            print(f"target {name:<8} (storage alone) >= {target}x: {ratio:.2f}x, {verdict}")
    if "wired" in runs:
        print(
            f"with the reactions users run, tagged: {runs['wired'][1] / runs['wired'][0]:.2f}x "
            "(not a target: the baseline computes no priority)"
        )
        print("reactions in the wired run, seconds per 10k mentions:")
        for name, seconds in spent.items():
            print(f"  {name:<34} {seconds * 10_000 / n:6.2f} s")


if __name__ == "__main__":
    asyncio.run(main())

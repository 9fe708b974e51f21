"""Polling throughput: 200 RSS sources on loopback, polled by one worker's poll loop.

Run: python -m bench.poll [--sources 200] [--items 25]
Prints mentions per second and peak memory for Luister's polls (guarded client, feed parsing,
ingest with tagging, cursor bookkeeping; the tagger built first, as a running worker has it)
and, in the same run, the time a bare httpx client takes to fetch the same pages: the ratio
is the cost of safety and bookkeeping. Then the same polls on 200 more sources with every
reaction a user's worker runs (priority, events, follow-ups...), printed beside it. Needs
PostgreSQL (LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local server).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import resource
import time
from pathlib import Path
from typing import Any

import httpx

from api.wiring import session_factory
from bench.ingest import admin_url, fresh_database
from connectors import feeds
from listener import migrate
from listener.db import make_engine, make_sessionmaker
from listener.kit.http import make_client
from listener.nlp.store import load_tagging_state
from listener.nlp.tagger import get_tagger
from listener.settings import Settings
from listener.sources import service
from listener.sources.polling import poll_source
from tests.connectors.servers import LoopbackServer, Reply


def feed(n: int, items: int) -> bytes:
    """An RSS feed of `items` entries for source `n`."""
    entries = "".join(
        f"<item><title>Feed {n} post {i}</title><link>https://news.example/{n}/{i}</link>"
        f"<guid>https://news.example/{n}/{i}</guid>"
        f"<description>&lt;p&gt;Fietsbaan dock {i} in Utrecht is &lt;b&gt;full&lt;/b&gt; "
        f"again, says reader {n}.&lt;/p&gt;</description>"
        f"<pubDate>Tue, 17 Nov 2026 {i % 24:02d}:{n % 60:02d}:00 +0000</pubDate></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {n}</title><link>https://news.example/{n}</link>{entries}</channel></rss>"
    ).encode()


BENCH_DATABASE = "luister_bench_poll"


def parse_cpu(documents: list[bytes], *, fast: bool) -> float:
    """CPU seconds to turn every document into mentions in this process (what a parse worker
    does per feed), with the fast RSS reader or with feedparser alone."""
    parse = feeds.parse_feed if fast else feeds.parse_with_feedparser
    started = time.process_time()
    for document in documents:
        entries, language = parse(document, "application/rss+xml", "http://127.0.0.1/feed.xml")
        to_mention = functools.partial(feeds.entry_to_mention, feed_language=language)
        feeds.map_items(entries, to_mention, id_of=feeds._raw_id)
    return time.process_time() - started


async def bare_fetch(urls: list[str], concurrency: int) -> float:
    """Seconds for a plain httpx client to GET every URL, `concurrency` at a time."""
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient() as client:

        async def one(url: str) -> None:
            async with limit:
                (await client.get(url)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--items", type=int, default=25)
    args = parser.parse_args()
    url = await fresh_database(admin_url(), BENCH_DATABASE)
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(
        database_url=url,
        secret_key="bench-secret-" + "x" * 40,  # type: ignore[arg-type]
        http_allow_hosts=["127.0.0.1"],
        data_dir=Path("/tmp/luister-bench"),
    )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)

    with LoopbackServer("127.0.0.1") as server:

        async def make_sources(first: int) -> tuple[list[str], list[int]]:
            """Feeds `first`.. on the server, each a source; their URLs and source ids."""
            urls = []
            for n in range(first, first + args.sources):
                path = f"/feed/{n}.xml"
                body = feed(n, args.items)
                server.route(
                    path, Reply(body=body, headers={"Content-Type": "application/rss+xml"})
                )
                urls.append(server.url(path))
            async with sessions() as session, session.begin():
                ids = [
                    (
                        await service.create_source(
                            session,
                            kind="rss",
                            name=f"feed-{first + n}",
                            config={"url": u},
                            key=settings.secret_bytes(),
                        )
                    ).id
                    for n, u in enumerate(urls)
                ]
            return urls, ids

        urls, ids = await make_sources(0)
        _, wired_ids = await make_sources(args.sources)
        # A running worker has built its pipelines and, once any text came without a language
        # (as RSS items do), the language detector: the polls are timed in that steady state.
        async with sessions() as session:
            state = await load_tagging_state(session)
        await asyncio.to_thread(get_tagger(state.settings).warm_up)
        bare_s = await bare_fetch(urls, settings.poll_concurrency)
        limit = asyncio.Semaphore(settings.poll_concurrency)
        async with make_client(settings) as client:

            async def poll_all(factory: Any, source_ids: list[int]) -> tuple[int, float]:
                async def poll(source_id: int) -> int:
                    async with limit:
                        outcome = await poll_source(
                            factory, source_id=source_id, settings=settings, client=client
                        )
                        assert outcome.ok and outcome.report is not None, outcome
                        return outcome.report.new

                started = time.perf_counter()
                stored = sum(await asyncio.gather(*(poll(i) for i in source_ids)))
                return stored, time.perf_counter() - started

            stored, ours_s = await poll_all(sessions, ids)
            # What a user's worker runs: the same polls, with every reaction to stored mentions
            # (priority, events, follow-ups, own voice, incidents, ...), on the other sources.
            wired_stored, wired_s = await poll_all(session_factory(settings, engine), wired_ids)
    await engine.dispose()

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    documents = [feed(n, args.items) for n in range(args.sources)]
    parse_cpu(documents[:5], fast=True)  # warm up imports and caches
    fast_s, feedparser_s = parse_cpu(documents, fast=True), parse_cpu(documents, fast=False)
    print(
        f"sources: {args.sources}, items per feed: {args.items}, concurrency "
        f"{settings.poll_concurrency}, PostgreSQL"
    )
    print(
        f"luister poll      : {stored / ours_s:9,.0f} mentions/s ({ours_s:.2f} s, "
        f"{stored:,} stored)"
    )
    print(f"bare httpx fetch  : {stored / bare_s:9,.0f} mentions/s-equivalent ({bare_s:.2f} s)")
    print(f"ratio luister / bare fetch rate: {bare_s / ours_s:.3f}")
    print(
        f"luister poll with every reaction users run: {wired_stored / wired_s:,.0f} mentions/s "
        f"({wired_s:.2f} s), {bare_s / wired_s:.3f}x the bare fetch rate (not the target: the "
        "bare fetch stores nothing)"
    )
    print(
        f"parse+normalize CPU for the {args.sources} feeds: fast reader {fast_s * 1000:.0f} ms, "
        f"feedparser {feedparser_s * 1000:.0f} ms (fast reader {feedparser_s / fast_s:.2f}x faster)"
    )
    print(f"peak memory (max RSS of the process): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())

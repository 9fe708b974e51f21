"""What the guarded client and the feed connector cost, measured against a bare httpx client.

Serves N gzip-compressed RSS feeds from minimal keep-alive servers on 127.0.0.1 (only) in a
child process, ten feeds per server (port), and fetches them all, 20 at a time:
1. bare `httpx.AsyncClient` (no guard, no caps), bodies only;
2. the guarded client, bodies only;
3. the guarded client through `FeedConnector` (conditional GET headers, parse, normalize).

Run from the repository root: `python -m bench.poll_fetch [--feeds 200] [--rounds 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import multiprocessing
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

import httpx

from connectors.feeds import FeedConfig, FeedConnector
from connectors.http import HttpPolicy, guarded_client

FEEDS_PER_SERVER = 10
ENTRIES_PER_FEED = 20
CONCURRENCY = 20


def rss(feed: int) -> bytes:
    """A realistic small feed: 20 entries with a paragraph of HTML each."""
    items = "".join(
        f"<item><guid>feed{feed}-entry{n}</guid><title>Entry {n} about Acme</title>"
        f"<link>https://blog{feed}.example.com/{n}</link>"
        f"<description>&lt;p&gt;{'Acme made our day better. ' * 20}&lt;/p&gt;</description>"
        f"<pubDate>Sat, 01 Aug 2026 09:{n:02d}:00 GMT</pubDate></item>"
        for n in range(ENTRIES_PER_FEED)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><language>en</language>{items}</channel></rss>"
    ).encode()


async def _serve(feeds: int, conn: Connection) -> None:
    """Minimal keep-alive HTTP/1.1 servers: the client, not the server, should be measured."""
    bodies = {f"/feed{feed}.xml".encode(): gzip.compress(rss(feed)) for feed in range(feeds)}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                body = bodies.get(head.split(b" ", 2)[1], b"")
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                    b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    servers = [
        await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
        for _ in range(0, feeds, FEEDS_PER_SERVER)
    ]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    conn.send(
        [f"http://127.0.0.1:{ports[f // FEEDS_PER_SERVER]}/feed{f}.xml" for f in range(feeds)]
    )
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    for server in servers:
        server.close()


def serve_feeds(feeds: int, conn: Connection) -> None:
    """In a child process, so the servers do not compete with the measured client for the GIL."""
    asyncio.run(_serve(feeds, conn))


async def gather_limited(jobs: list[Callable[[], Awaitable[int]]]) -> int:
    """Run the jobs CONCURRENCY at a time; sum what they return."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[int]]) -> int:
        async with gate:
            return await job()

    return sum(await asyncio.gather(*(run(job) for job in jobs)))


async def bare_bodies(urls: list[str]) -> int:
    """Fetch every feed with a plain httpx client."""
    async with httpx.AsyncClient() as client:

        async def one(url: str) -> int:
            return len((await client.get(url)).content)

        return await gather_limited([functools.partial(one, url) for url in urls])


async def guarded_bodies(urls: list[str]) -> int:
    """Fetch every feed through the guarded client."""
    async with guarded_client(HttpPolicy(allow_hosts=("127.0.0.1",))) as client:

        async def one(url: str) -> int:
            return len((await client.get(url)).content)

        return await gather_limited([functools.partial(one, url) for url in urls])


async def connector_polls(urls: list[str]) -> int:
    """Poll every feed with the feed connector; return the mentions produced."""
    connector = FeedConnector()
    async with guarded_client(HttpPolicy(allow_hosts=("127.0.0.1",))) as client:

        async def one(url: str) -> int:
            result = await connector.fetch(client=client, config=FeedConfig(url=url), cursor={})
            return len(result.items)

        return await gather_limited([functools.partial(one, url) for url in urls])


async def timed(
    variants: list[tuple[str, Callable[[list[str]], Awaitable[int]]]], urls: list[str], rounds: int
) -> dict[str, tuple[float, float, int]]:
    """Median wall and CPU seconds of each variant over `rounds` rounds, and its last result.
    The variants take turns within each round, so a busy machine slows them alike; CPU time
    (this process only: the servers run in another) is what load barely changes."""
    walls: dict[str, list[float]] = {name: [] for name, _ in variants}
    cpus: dict[str, list[float]] = {name: [] for name, _ in variants}
    results: dict[str, int] = {}
    for _ in range(rounds):
        for name, run in variants:
            started, cpu_started = time.perf_counter(), time.process_time()
            results[name] = await run(urls)
            walls[name].append(time.perf_counter() - started)
            cpus[name].append(time.process_time() - cpu_started)
    return {
        name: (statistics.median(walls[name]), statistics.median(cpus[name]), results[name])
        for name, _ in variants
    }


async def peak_memory(run: Callable[[list[str]], Awaitable[int]], urls: list[str]) -> float:
    """Peak traced MiB of one run (a separate run: tracing slows everything down)."""
    tracemalloc.start()
    try:
        await run(urls)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def main(feeds: int, rounds: int) -> None:
    """Print one line per variant and the cost ratios."""
    parent, child = multiprocessing.Pipe()
    server_process = multiprocessing.Process(target=serve_feeds, args=(feeds, child), daemon=True)
    server_process.start()
    urls: list[str] = parent.recv()
    try:
        variants = [
            ("bare httpx, bodies", bare_bodies),
            ("guarded client, bodies", guarded_bodies),
            ("guarded + FeedConnector", connector_polls),
        ]
        baseline = cpu_baseline = 0.0
        measured: dict[str, tuple[float, float]] = {}
        await bare_bodies(urls)  # warm up: imports, the servers' first connections
        medians = await timed(variants, urls, rounds)
        for name, run in variants:
            seconds, cpu, result = medians[name]
            peak = await peak_memory(run, urls)
            baseline = baseline or seconds
            cpu_baseline = cpu_baseline or cpu
            measured[name] = (seconds, cpu)
            unit = "mentions" if run is connector_polls else "bytes"
            print(
                f"{name:26s} {feeds / seconds:8.0f} feeds/s  {seconds * 1000:7.1f} ms  "
                f"cpu {cpu * 1000:6.1f} ms  "
                f"peak {peak:5.1f} MiB  x{seconds / baseline:4.2f} vs bare  ({result} {unit})"
            )
        # Rates relative to the bare client (1.0 = as fast; issue 16 asks >= 0.9 of the guard).
        for label, name in (("guarded", variants[1][0]), ("connector", variants[2][0])):
            seconds, cpu = measured[name]
            print(
                f"ratio {label} / bare fetch rate: {baseline / seconds:.3f} "
                f"(by CPU time: {cpu_baseline / cpu:.3f})"
            )
    finally:
        parent.send("stop")
        server_process.join(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.feeds, options.rounds))

"""Scale-out: 1, 2 and 4 `luister worker` processes sharing sources, two `luister serve` replicas.

Run: python -m bench.scale [--quick] [--sources 400] [--items 10] [--new-items 5]
     [--workers 1,2,4]

Everything on 127.0.0.1: a PostgreSQL database of its own (luister_bench_scale, created afresh
for each worker count and dropped; the server from LUISTER_BENCH_DATABASE_URL, else
LUISTER_TEST_DATABASE_URL, else the local one), a redis-server of its own on a free port, and
one process serving the feeds.

For each worker count: the workers start (each proves its start-up is over by running a
warm-up poll), then N sources are added and swept (the real `sweep_due_sources`; the workers'
own sweeps race it, as several workers' would), and polled until every item is stored
(round 1); then every feed gains new items and the sources are due again (round 2). Prints
items stored per second, duplicates (rows minus distinct platform ids) and lost items (served,
never stored), and the ratios of 2 and 4 workers to 1.

Then two `luister serve` processes behind a round-robin client: a claim taken through A is seen
through B and refused to another user through B; a write with a stale version through B is a
409; the event stream open on A sees the event of a write made through B.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json as json_lib
import os
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench import cluster
from listener import migrate
from listener.db import make_engine, make_sessionmaker

DATABASE = "luister_bench_scale"
WAIT_SECONDS = 900  # a bound on a stuck run, never a timing


@dataclass
class Row:
    workers: int
    items: int
    seconds: float
    round1: float
    round2: float
    duplicates: int
    lost: int
    polls_per_worker: list[int]

    @property
    def rate(self) -> float:
        return self.items / self.seconds


async def warm_up(
    procs: list[cluster.Proc],
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    feeds: cluster.FeedServer,
    sweep: cluster.Sweeper,
    run: str,
) -> None:
    """Feed small warm-up sources until every worker has run a poll (its start-up is over)."""
    batch = 0
    while not all([await cluster.polls_run(p) for p in procs]):
        for proc in procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.output()[-4000:]}")
        ids = await cluster.add_sources(sessions, feeds, f"{run}w{batch}", len(procs) * 4)
        batch += 1
        await sweep()

        async def polled(ids: list[int] = ids) -> bool:
            return await cluster.count_rows(engine, ids) >= len(ids)

        await cluster.wait_for(polled, within=WAIT_SECONDS, what="the warm-up polls")


async def measure(
    workers: int,
    args: argparse.Namespace,
    database_url: str,
    redis: cluster.OwnRedis,
    feeds: cluster.FeedServer,
) -> Row:
    run = f"w{workers}"
    queue = f"luister:bench:scale:{workers}:{os.getpid()}"
    env = cluster.luister_env(database_url, redis.url, queue, cluster.temp_dir("luister-scale-"))
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    sweep = cluster.Sweeper(sessions, redis.url, queue)
    try:
        with cluster.processes() as procs:
            procs += [cluster.start_worker(f"worker-{i}", env) for i in range(workers)]
            feeds.items.value = 1
            await warm_up(procs, sessions, engine, feeds, sweep, run)
            before = [await cluster.polls_run(p) for p in procs]

            ids = await cluster.add_sources(sessions, feeds, run, args.sources)
            seconds: list[float] = []
            for total in (args.items, args.items + args.new_items):
                feeds.items.value = total
                if seconds:
                    await cluster.make_due(engine, ids)
                started = time.perf_counter()
                await sweep()

                async def done(total: int = total) -> bool:
                    return await cluster.count_rows(engine, ids) >= len(ids) * total

                await cluster.wait_for(done, within=WAIT_SECONDS, what=f"{run} to store all")
                seconds.append(time.perf_counter() - started)
            # A last look: the workers' own sweeps must not poll anything twice meanwhile.
            await asyncio.sleep(1)
            got = await cluster.stored(engine, ids)
            shares = [await cluster.polls_run(p) - b for p, b in zip(procs, before, strict=True)]
            for proc in procs:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.output()[-4000:]}")
    finally:
        await engine.dispose()
    served = cluster.expected_ids(run, args.sources, args.items + args.new_items)
    return Row(
        workers=workers,
        items=len(served),
        seconds=sum(seconds),
        round1=seconds[0],
        round2=seconds[1],
        duplicates=got.rows - got.distinct,
        lost=len(served - got.ids),
        polls_per_worker=shares,
    )


class RoundRobin:
    """One client for several API replicas: each request goes to the next one in turn."""

    def __init__(
        self, client: httpx.AsyncClient, replicas: list[tuple[str, str]], token: str
    ) -> None:
        self.client = client
        self.replicas = replicas  # (name, base URL)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.turn = 0

    async def request(
        self, method: str, path: str, json: object = None
    ) -> tuple[str, httpx.Response]:
        """Send to the next replica; which one (A or B) and its answer."""
        name, base = self.replicas[self.turn % len(self.replicas)]
        self.turn += 1
        response = await self.client.request(method, base + path, json=json, headers=self.headers)
        return name, response


def names_mention(value: object, mention_id: int) -> bool:
    """Whether an event names the mention (its subject, or a `mention_id` in its payload)."""
    if isinstance(value, dict):
        if value.get("subject") == f"mention:{mention_id}":
            return True
        if value.get("mention_id") == mention_id:
            return True
        return any(names_mention(v, mention_id) for v in value.values())
    if isinstance(value, list):
        return any(names_mention(v, mention_id) for v in value)
    return False


async def first_event_about(response: httpx.Response, mention_id: int) -> dict[str, object]:
    """Read Server-Sent Events until one names the mention; that event's data."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            event = json_lib.loads("\n".join(data))
            data = []
            if names_mention(event, mention_id):
                return dict(event)
    raise AssertionError("the stream ended")


async def replicas(database_url: str, redis: cluster.OwnRedis) -> list[tuple[str, bool, str]]:
    """Two `luister serve` processes: claims, stale versions and the stream across them."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        token_a = await cluster.seed_user(sessions, "alice")
        token_b = await cluster.seed_user(sessions, "bob")
        async with engine.connect() as conn:
            mention_id = int(await conn.scalar(text("SELECT min(id) FROM mentions")) or 0)
            last_event = await conn.scalar(
                text("SELECT coalesce(max(id), 0) FROM integration_events")
            )
    finally:
        await engine.dispose()
    queue = f"luister:bench:scale:api:{os.getpid()}"
    env = cluster.luister_env(database_url, redis.url, queue, cluster.temp_dir("luister-api-"))
    ports = [cluster.free_port(), cluster.free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    results: list[tuple[str, bool, str]] = []
    with cluster.processes() as procs:
        for name, port in zip("AB", ports, strict=True):
            args = ("serve", "--host", "127.0.0.1", "--port", str(port))
            procs.append(cluster.start(f"api-{name}", *args, env=env))
        async with httpx.AsyncClient(timeout=30) as client:
            for proc, base in zip(procs, bases, strict=True):
                await cluster.wait_for(
                    functools.partial(cluster.ready, client, proc, base),
                    within=WAIT_SECONDS,
                    what=f"{proc.name} /readyz",
                )
            named = list(zip("AB", bases, strict=True))
            alice = RoundRobin(client, named, token_a)
            bob = RoundRobin(client, named[::-1], token_b)  # bob's first request goes to B
            path = f"/api/v1/mentions/{mention_id}"

            # Claims: taken through A, seen through B, refused to bob through B.
            via, taken = await alice.request("POST", f"{path}/claim", json={})
            via_seen, seen = await alice.request("GET", f"{path}/claim")
            holder = json_lib.dumps(seen.json())
            results.append(
                (
                    f"claim via {via}, seen via {via_seen}",
                    taken.status_code == 200 and "alice" in holder,
                    f"{taken.status_code}, {holder}",
                )
            )
            via, refused = await bob.request("POST", f"{path}/claim", json={})
            results.append(
                (
                    f"bob's claim via {via} while alice holds it",
                    refused.status_code == 409,
                    str(refused.status_code),
                )
            )
            alice.turn = 0
            await alice.request("DELETE", f"{path}/claim")

            # Versions: a write through A, then the same (now stale) version through B.
            alice.turn = 1
            _, detail = await alice.request("GET", path)
            version = int(detail.headers["ETag"].strip('"'))
            via, first = await alice.request(
                "POST", f"{path}/status", json={"status": "open", "version": version}
            )
            via_stale, stale = await alice.request(
                "POST", f"{path}/status", json={"status": "escalated", "version": version}
            )
            results.append(
                (
                    f"write at version {version} via {via}, same version via {via_stale}",
                    first.status_code == 200 and stale.status_code == 409,
                    f"{first.status_code} then {stale.status_code}",
                )
            )

            # The stream: open on A; a write through B shows up on it.
            alice.turn = 0
            _, current = await alice.request("GET", path)
            version = int(current.headers["ETag"].strip('"'))
            stream_url = f"{bases[0]}/api/v1/events/stream"
            headers = {"Authorization": f"Bearer {token_a}"}
            async with client.stream(
                "GET", stream_url, params={"after": last_event}, headers=headers, timeout=60
            ) as response:
                bob.turn = 0
                via, written = await bob.request(
                    "POST", f"{path}/status", json={"status": "resolved", "version": version}
                )
                try:
                    event = await asyncio.wait_for(first_event_about(response, mention_id), 60)
                    seen_type = str(event.get("type"))
                except (TimeoutError, AssertionError) as exc:
                    seen_type = f"nothing ({exc!r})"
            results.append(
                (
                    f"stream on A sees the write via {via}",
                    written.status_code == 200 and not seen_type.startswith("nothing"),
                    f"{written.status_code}, event {seen_type}",
                )
            )
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 sources, 5 + 5 items")
    parser.add_argument("--sources", type=int, default=400)
    parser.add_argument("--items", type=int, default=10, help="items per feed in round 1")
    parser.add_argument("--new-items", type=int, default=5, help="items each feed gains after")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma separated")
    args = parser.parse_args()
    if args.quick:
        args.sources, args.items, args.new_items = 100, 5, 5
    counts = [int(c) for c in args.workers.split(",")]

    admin = cluster.admin_url()
    rows: list[Row] = []
    checks: list[tuple[str, bool, str]] = []
    with cluster.OwnRedis() as redis, cluster.FeedServer() as feeds:
        for workers in counts:
            # Each count starts from the same empty database: the background jobs every worker
            # also runs (incidents, triage) must not face a bigger one for the later counts.
            database_url = await cluster.create_database(admin, DATABASE)
            try:
                await asyncio.to_thread(migrate.upgrade, database_url)
                rows.append(await measure(workers, args, database_url, redis, feeds))
                print(f"  {workers} worker(s): {rows[-1].rate:,.0f} items/s", flush=True)
                if workers == counts[-1]:
                    checks = await replicas(database_url, redis)
            finally:
                await cluster.drop_database(admin, DATABASE)

    print(
        f"\n{args.sources} feeds (RSS and Atom), {args.items} items each, then {args.new_items} "
        f"new each; PostgreSQL + Redis; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'workers':>7} {'items':>7} {'round 1 s':>9} {'round 2 s':>9} {'items/s':>8} "
        f"{'dupes':>5} {'lost':>5}  polls per worker"
    )
    for row in rows:
        print(
            f"{row.workers:>7} {row.items:>7} {row.round1:>9.1f} {row.round2:>9.1f} "
            f"{row.rate:>8,.0f} {row.duplicates:>5} {row.lost:>5}  {row.polls_per_worker}"
        )
    base = next((r for r in rows if r.workers == 1), None)
    if base:
        for row in rows:
            if row.workers != 1:
                print(f"ratio {row.workers} workers / 1 worker: {row.rate / base.rate:.2f}x")
    print("\ntwo `luister serve` replicas behind a round-robin client:")
    for what, ok, detail in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {what}: {detail}")
    failed = any(r.duplicates or r.lost for r in rows) or not all(ok for _, ok, _ in checks)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())

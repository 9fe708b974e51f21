"""Faults: Redis restarted mid-run, the workers' PostgreSQL connections cut mid-poll.

Run: python -m bench.chaos [--workers 2] [--sources 100] [--items 5] [--new-items 3]

On 127.0.0.1 only: a PostgreSQL database of its own (luister_bench_chaos, created and dropped
here; nothing else on the server is touched), a redis-server of its own on a free port (the one
that is restarted), a feed server process, N `luister worker` processes and one `luister serve`.

1. Baseline: every feed's items are polled and stored.
2. Redis restarted: every feed gains items; Redis is killed (no persistence: every queued job is
   lost) and started again on the same port. Meanwhile `/readyz` must answer 503 naming Redis.
3. PostgreSQL cut mid-poll: every feed gains items and answers slowly, so polls are in flight;
   every connection to the database is terminated (`pg_terminate_backend`) a few times, then the
   database refuses connections for a few seconds (`ALLOW_CONNECTIONS false`, that database
   only). Meanwhile `/readyz` must answer 503 naming the database.

After each fault the same worker processes (none restarted) must store every served item, with
no item stored twice. Sources poll every few seconds, so they are polled again and again
throughout. The bench also sweeps every second (the real sweep job; the workers' own sweeps
run every 15 s): that only shortens the waits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from bench import cluster
from listener import migrate
from listener.db import make_engine, make_sessionmaker

WAIT_SECONDS = 600  # a bound on a stuck run, never a timing
POLL_INTERVAL = 3  # seconds between a source's polls (its backoff after a failure is 1.5-6 s+)


@dataclass
class Phase:
    name: str
    expected: int = 0
    stored: int = 0
    duplicates: int = 0
    lost: int = 0
    recovered_seconds: float = 0.0
    readyz: str = ""
    note: str = ""


@dataclass
class ChaosReport:
    workers: int
    sources: int
    phases: list[Phase] = field(default_factory=list)
    workers_alive: bool = True
    worker_output: str = ""
    failed_polls: int = 0

    @property
    def ok(self) -> bool:
        return self.workers_alive and all(
            p.duplicates == 0 and p.lost == 0 and p.stored == p.expected for p in self.phases
        )


class Pump:
    """Sweeps every second in the background, shrugging off the faults it runs into."""

    def __init__(self, sweep: cluster.Sweeper) -> None:
        self.sweep = sweep
        self.errors = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.sweep(), 10)
            except Exception:  # Redis or the database is down on purpose
                self.errors += 1
            await asyncio.sleep(1)

    async def __aenter__(self) -> Pump:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def readyz(client: httpx.AsyncClient, base: str) -> tuple[int, str]:
    try:
        response = await client.get(f"{base}/readyz", timeout=10)
    except httpx.TransportError as exc:
        return 0, repr(exc)
    return response.status_code, response.text


async def until_readyz(
    client: httpx.AsyncClient, base: str, wanted: Callable[[int, str], bool], what: str
) -> str:
    """Poll /readyz until `wanted(status, body)`; that body."""
    seen: list[str] = []

    async def check() -> bool:
        status, body = await readyz(client, base)
        seen[:] = [f"{status} {body}"]
        return wanted(status, body)

    await cluster.wait_for(check, within=WAIT_SECONDS, every=0.2, what=what)
    return seen[0]


async def run_chaos(
    *,
    workers: int = 2,
    sources: int = 100,
    items: int = 5,
    new_items: int = 3,
    database: str = "luister_bench_chaos",
    say: Callable[[str], None] = print,
    hold: float = 2.0,
    settle: float = POLL_INTERVAL + 2,
) -> ChaosReport:
    """Run the three phases; what each showed.

    `hold`: seconds each fault lasts once /readyz reported it; `settle`: seconds of polling
    after everything was stored, before counting (re-polls storing anything twice would show).
    """
    admin = cluster.admin_url()
    url = await cluster.create_database(admin, database)
    report = ChaosReport(workers=workers, sources=sources)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        queue = f"luister:bench:chaos:{os.getpid()}"
        with (
            cluster.OwnRedis() as redis,
            cluster.FeedServer() as feeds,
            cluster.processes() as procs,
        ):
            env = cluster.luister_env(
                url, redis.url, queue, cluster.temp_dir("luister-chaos-"), job_timeout_seconds="10"
            )
            procs += [cluster.start_worker(f"worker-{i}", env) for i in range(workers)]
            port = cluster.free_port()
            api = cluster.start("api", "serve", "--host", "127.0.0.1", "--port", str(port), env=env)
            procs.append(api)
            base = f"http://127.0.0.1:{port}"
            sweep = cluster.Sweeper(sessions, redis.url, queue)
            run = "chaos"
            feeds.items.value = items
            ids = await cluster.add_sources(sessions, feeds, run, sources, interval=POLL_INTERVAL)

            async def all_stored(total: int, since: float | None = None) -> Phase:
                """Wait until every served item is stored; the tally (and seconds `since`)."""

                async def done() -> bool:
                    for proc in procs:
                        if not proc.alive():
                            raise AssertionError(f"{proc.name} exited:\n{proc.output()[-4000:]}")
                    try:
                        return await cluster.count_rows(engine, ids) >= len(ids) * total
                    except Exception:  # our own connections are cut too
                        return False

                await cluster.wait_for(done, within=WAIT_SECONDS, what="every item stored")
                took = time.perf_counter() - since if since is not None else 0.0
                # Keep polling a little: sources are due every few seconds, a retry storing
                # anything twice would show now.
                await asyncio.sleep(settle)
                got = await cluster.stored(engine, ids)
                served = cluster.expected_ids(run, len(ids), total)
                return Phase(
                    "",
                    recovered_seconds=took,
                    expected=len(served),
                    stored=got.rows,
                    duplicates=got.rows - got.distinct,
                    lost=len(served - got.ids),
                )

            async with httpx.AsyncClient() as client, Pump(sweep):
                await cluster.wait_for(
                    lambda: cluster.ready(client, api, base), within=WAIT_SECONDS, what="readyz"
                )
                say("baseline: polling every feed")
                phase = await all_stored(items)
                phase.name = "baseline"
                report.phases.append(phase)

                say("fault 1: Redis killed and started again")
                total = items + new_items
                feeds.items.value = total
                redis.stop()
                phase_readyz = await until_readyz(
                    client, base, lambda s, b: s == 503 and "redis" in b, "readyz to name Redis"
                )
                await asyncio.sleep(hold)  # the workers' loops run into the dead Redis meanwhile
                redis.start()
                back = time.perf_counter()
                await until_readyz(client, base, lambda s, _: s == 200, "readyz to recover")
                phase = await all_stored(total, since=back)
                phase.name = "Redis restarted"
                phase.readyz = phase_readyz
                report.phases.append(phase)

                say("fault 2: PostgreSQL connections terminated mid-poll, then refused")
                total += new_items
                served_before = feeds.served.value
                feeds.delay_ms.value = 300  # polls are in flight for a while
                feeds.items.value = total

                async def in_flight() -> bool:
                    return feeds.served.value > served_before

                await cluster.wait_for(in_flight, within=WAIT_SECONDS, what="polls in flight")
                terminated = 0
                for _ in range(3):
                    terminated += await cluster.terminate_backends(admin, database)
                    await asyncio.sleep(0.5)
                await cluster.allow_connections(admin, database, False)
                try:
                    terminated += await cluster.terminate_backends(admin, database)
                    phase_readyz = await until_readyz(
                        client,
                        base,
                        lambda s, b: s == 503 and "database" in b,
                        "readyz to name the database",
                    )
                    await asyncio.sleep(hold)
                finally:
                    await cluster.allow_connections(admin, database, True)
                back = time.perf_counter()
                feeds.delay_ms.value = 0
                await until_readyz(client, base, lambda s, _: s == 200, "readyz to recover")
                phase = await all_stored(total, since=back)
                phase.name = "PostgreSQL cut"
                phase.readyz = phase_readyz
                phase.note = f"{terminated} connections terminated"
                report.phases.append(phase)

            report.workers_alive = all(p.alive() for p in procs)
            report.worker_output = "\n".join(p.output()[-3000:] for p in procs)
            async with engine.connect() as conn:
                report.failed_polls = int(
                    await conn.scalar(
                        text(
                            "SELECT count(*) FROM integration_events "
                            "WHERE type IN ('source.failing', 'source.paused')"
                        )
                    )
                    or 0
                )
        await engine.dispose()
    finally:
        await cluster.allow_connections(admin, database, True)
        await cluster.drop_database(admin, database)
    return report


def print_report(report: ChaosReport) -> None:
    print(
        f"\n{report.workers} worker(s), {report.sources} feeds polled every {POLL_INTERVAL} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'phase':<16} {'served':>6} {'stored':>6} {'dupes':>5} {'lost':>5} {'all in s':>9}")
    for p in report.phases:
        print(
            f"{p.name:<16} {p.expected:>6} {p.stored:>6} {p.duplicates:>5} {p.lost:>5} "
            f"{p.recovered_seconds:>9.1f}  {p.note}"
        )
        if p.readyz:
            print(f"{'':<16} /readyz meanwhile: {p.readyz[:300]}")
    print("all in s: from the end of the fault until every item served so far was stored")
    print(f"workers alive throughout: {report.workers_alive}")
    print(f"source failure events recorded (failed polls that were retried): {report.failed_polls}")
    print("result:", "ok" if report.ok else "FAILED")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sources", type=int, default=100)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--new-items", type=int, default=3)
    args = parser.parse_args()
    report = await run_chaos(
        workers=args.workers, sources=args.sources, items=args.items, new_items=args.new_items
    )
    print_report(report)
    if not report.ok:
        print(report.worker_output)
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())

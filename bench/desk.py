"""The desk's queue page against the JSON API's first page, on 1,000,000 mentions in PostgreSQL.

Run: python -m bench.desk [--rows 1000000] [--requests 200] [--reuse]
Builds the rows with bench/queue.py's set-based generator (in its own database,
luister_bench_desk), starts `luister serve` on 127.0.0.1, signs a moderator in at the desk and
times, interleaved over the same run:
  - GET /queue: the desk's queue page rendered server-side (the open queue, priority order,
    chips, SLA countdowns, claim holders, filters and saved views);
  - GET /api/v1/mentions?status=new&status=open&status=escalated&sort=priority: the same first
    page from the JSON API.
Prints p50 and p99 of both and the ratio of the desk's to the API's (the target: p99 at most
3x). Uses LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local server.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder is first on sys.path, where bench/queue.py would shadow the
# standard library's `queue`: the repository root goes first instead. bench/queue.py removes
# this folder from sys.path itself when imported, so it is kept at the end until then.
_HERE = str(Path(__file__).resolve().parent)
if _HERE in sys.path:
    sys.path.remove(_HERE)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.append(_HERE)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import queue as queue_bench  # noqa: E402
from listener import migrate  # noqa: E402
from listener.accounts.service import create_token, create_user  # noqa: E402
from listener.db import make_engine, make_sessionmaker  # noqa: E402
from listener.models import Role  # noqa: E402
from listener.settings import Settings  # noqa: E402

DATABASE = "luister_bench_desk"
PASSWORD = "bench-password-desk"
OPEN_QUEUE = ["new", "open", "escalated"]
_ROW = re.compile(r'<tr data-row="(\d+)"')


async def _database(admin_url: str, *, fresh: bool) -> str:
    url = make_url(admin_url)
    engine = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        exists = (
            await conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}
            )
        ).scalar()
        if fresh or not exists:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    await engine.dispose()
    return url.set(database=DATABASE).render_as_string(hide_password=False)


async def _moderator(url: str) -> tuple[str, str]:
    """A moderator who signs in at the desk, and a token of theirs for the API."""
    settings = Settings(database_url=url, secret_key=queue_bench.SECRET)  # type: ignore[arg-type]
    engine = make_engine(url)
    username = f"desk-bench-{os.getpid()}"
    async with make_sessionmaker(engine)() as session, session.begin():
        user = await create_user(session, username=username, password=PASSWORD, role=Role.MODERATOR)
        issued = await create_token(session, user=user, name="bench", key=settings.secret_bytes())
    await engine.dispose()
    return username, issued.token


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


async def measure(port: int, username: str, token: str, requests: int) -> dict[str, list[float]]:
    """Interleave desk page and API page so both see the same conditions."""
    base = f"http://127.0.0.1:{port}"
    timings: dict[str, list[float]] = {"desk": [], "api": []}
    async with (
        httpx.AsyncClient(base_url=base, timeout=60) as desk,
        httpx.AsyncClient(
            base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as api,
    ):
        await queue_bench._wait_ready(api)
        signed = await desk.post("/login", data={"username": username, "password": PASSWORD})
        if signed.status_code != 303:
            raise RuntimeError(f"desk sign-in failed: {signed.status_code} {signed.text[:200]}")
        params = {"status": OPEN_QUEUE, "sort": "priority"}
        for i in range(requests + 20):  # the first 20 of each warm caches and are not counted
            started = time.perf_counter()
            page = await desk.get("/queue")
            desk_seconds = time.perf_counter() - started
            started = time.perf_counter()
            listed = await api.get("/api/v1/mentions", params=params)
            api_seconds = time.perf_counter() - started
            page.raise_for_status()
            listed.raise_for_status()
            if i == 0:
                shown = [int(m) for m in _ROW.findall(page.text)]
                ids = [item["id"] for item in listed.json()["items"]]
                if shown != ids:
                    raise AssertionError("the desk's first page is not the API's first page")
                print(f"both list the same {len(ids)} mentions; page {len(page.content):,} bytes")
            if i >= 20:
                timings["desk"].append(desk_seconds)
                timings["api"].append(api_seconds)
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="Keep a build of the same size")
    args = parser.parse_args()
    admin_url = (
        os.environ.get("LUISTER_BENCH_DATABASE_URL")
        or os.environ.get("LUISTER_TEST_DATABASE_URL")
        or queue_bench.DEFAULT_URL
    )
    url = await _database(admin_url, fresh=not args.reuse)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    if args.reuse and await queue_bench._count(engine) == args.rows:
        print(f"reusing {args.rows:,} mentions in {DATABASE}")
    else:
        if args.reuse:
            await engine.dispose()
            url = await _database(admin_url, fresh=True)
            await asyncio.to_thread(migrate.upgrade, url)
            engine = make_engine(url)
        seconds = await queue_bench.build(engine, args.rows)
        print(f"built {args.rows:,} mentions with queue items in {seconds:.1f} s")
    await engine.dispose()
    username, token = await _moderator(url)
    port = queue_bench._free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = queue_bench.serve(url, port, data_dir)
        try:
            timings = await measure(port, username, token, args.requests)
        except Exception:
            print((Path(data_dir) / "server.log").read_text(), file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)

    desk_p50, desk_p99 = _percentiles(timings["desk"])
    api_p50, api_p99 = _percentiles(timings["api"])
    print(f"{args.requests} timed requests of each, interleaved, one at a time, over HTTP")
    for name, p50, p99 in (
        ("GET /queue (desk page, server-rendered)", desk_p50, desk_p99),
        ("GET /api/v1/mentions (JSON, same first page)", api_p50, api_p99),
    ):
        print(f"{name:<48} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
    ratio = desk_p99 / api_p99
    verdict = "within" if ratio <= 3 else "OVER"
    print(f"desk/API: p50 {desk_p50 / api_p50:.2f}x, p99 {ratio:.2f}x ({verdict} the 3x target)")


if __name__ == "__main__":
    asyncio.run(main())

"""A scaled-out Luister on one machine, for the scale and fault benches and the chaos test.

Everything listens on 127.0.0.1: a PostgreSQL database of its own (created and dropped here), a
`redis-server` of its own on a free port (so restarting it disturbs nobody else), one process
serving RSS and Atom feeds, and real `luister worker` / `luister serve` processes.

Feeds are generated from their path, so the bench knows exactly which items were served:
`/<run>/<n>.xml` holds items 0..k-1 of feed n, k being the server's current item count (raised
between rounds to give every feed new items). Even feeds are RSS 2.0, odd ones Atom.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.db import make_engine
from listener.settings import Settings
from listener.sources import service
from listener.sources.tasks import sweep_due_sources

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SECRET = "bench-cluster-secret-" + "x" * 40
REPO = Path(__file__).resolve().parent.parent


def admin_url() -> str:
    """The PostgreSQL server to create bench databases on (any database on it)."""
    return (
        os.environ.get("LUISTER_BENCH_DATABASE_URL")
        or os.environ.get("LUISTER_TEST_DATABASE_URL")
        or DEFAULT_ADMIN_URL
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, within: float, every: float = 0.2, what: str = ""
) -> None:
    """Poll `check` until it is true; AssertionError naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within:.0f} s waiting for {what}")
        await asyncio.sleep(every)


# --- PostgreSQL --------------------------------------------------------------------------------


async def create_database(admin: str, name: str) -> str:
    """Drop and create database `name` on the server of `admin`; its URL."""
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin: str, name: str) -> None:
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def terminate_backends(admin: str, name: str) -> int:
    """`pg_terminate_backend` every connection to database `name` (only that one); how many."""
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            return sum(1 for (done,) in rows if done)
    finally:
        await engine.dispose()


async def allow_connections(admin: str, name: str, allowed: bool) -> None:
    """Open or close database `name` to new connections (an outage of that database only)."""
    engine = make_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            flag = "true" if allowed else "false"
            await conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {flag}'))
    finally:
        await engine.dispose()


# --- Redis -------------------------------------------------------------------------------------


#: Loopback only, nothing written to disk: a restart loses every queued job (the worst case).
REDIS_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")


class OwnRedis:
    """A `redis-server` of our own on a free loopback port, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.popen = subprocess.Popen(
            [binary, "--port", str(self.port), *REDIS_OPTIONS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from redis import Redis

        client = Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            for _ in range(200):
                try:
                    if client.ping():
                        return
                except Exception:
                    time.sleep(0.05)
            raise RuntimeError(f"redis-server on port {self.port} did not answer")
        finally:
            client.close()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self.popen = None

    def __enter__(self) -> OwnRedis:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- Feeds -------------------------------------------------------------------------------------

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
WORDS = ("bike", "dock", "app", "battery", "payment", "lock", "helmet", "route", "station")


def item_id(run: str, n: int, i: int) -> str:
    return f"urn:luister-bench:{run}:{n}:{i}"


def feed_body(run: str, n: int, items: int) -> bytes:
    """Feed `n` of `run` with items 0..items-1, newest first."""
    entries = []
    for i in reversed(range(items)):
        when = START + timedelta(minutes=n + i * 7)
        word = WORDS[(n + i) % len(WORDS)]
        says = f"Reader {n} writes: the {word} at stop {i} is broken again, is anyone on it?"
        if n % 2 == 0:
            stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
            entries.append(
                f"<item><title>Feed {n} post {i}</title>"
                f"<link>https://news.example/{run}/{n}/{i}</link>"
                f'<guid isPermaLink="false">{item_id(run, n, i)}</guid>'
                f"<description>{says}</description><pubDate>{stamp}</pubDate></item>"
            )
        else:
            entries.append(
                f"<entry><title>Feed {n} post {i}</title><id>{item_id(run, n, i)}</id>"
                f'<link href="https://news.example/{run}/{n}/{i}"/>'
                f"<updated>{when.isoformat()}</updated><summary>{says}</summary></entry>"
            )
    if n % 2 == 0:
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Feed {n}</title><link>https://news.example/{run}/{n}</link>"
            f"{''.join(entries)}</channel></rss>"
        ).encode()
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Feed {n}</title><id>urn:luister-bench:{run}:{n}</id>"
        f"<updated>{START.isoformat()}</updated>{''.join(entries)}</feed>"
    ).encode()


def _serve_feeds(
    port: int, items: Synchronized[int], delay_ms: Synchronized[int], served: Synchronized[int]
) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = self.path.strip("/").removesuffix(".xml").split("/")
            if len(parts) != 2 or not parts[1].isdigit():
                self.send_error(404)
                return
            if delay_ms.value:
                time.sleep(delay_ms.value / 1000)
            body = feed_body(parts[0], int(parts[1]), items.value)
            kind = "application/rss+xml" if int(parts[1]) % 2 == 0 else "application/atom+xml"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with served.get_lock():
                served.value += 1

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


class FeedServer:
    """One process serving every feed; `items` and `delay_ms` are shared with it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.items: Synchronized[int] = context.Value("i", 0)
        self.delay_ms: Synchronized[int] = context.Value("i", 0)
        self.served: Synchronized[int] = context.Value("i", 0)
        self._process = context.Process(
            target=_serve_feeds,
            args=(self.port, self.items, self.delay_ms, self.served),
            daemon=True,
        )

    def url(self, run: str, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/{run}/{n}.xml"

    def __enter__(self) -> FeedServer:
        self._process.start()
        import socket

        for _ in range(300):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("the feed server did not start")

    def __exit__(self, *_exc: object) -> None:
        self._process.kill()
        self._process.join()


# --- Luister processes -------------------------------------------------------------------------


@dataclass
class Proc:
    """A running `luister` command whose output is collected by reader threads."""

    name: str
    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    metrics_port: int | None = None

    def output(self) -> str:
        return "".join(self.lines)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def _drain(stream: Any, into: list[str]) -> None:
    for line in iter(stream.readline, ""):
        into.append(line)


def start(name: str, *args: str, env: dict[str, str]) -> Proc:
    """Run `python -m api ARGS` (stdout and stderr merged into one collected stream)."""
    popen = subprocess.Popen(
        [sys.executable, "-m", "api", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc = Proc(name, popen)
    threading.Thread(target=_drain, args=(popen.stdout, proc.lines), daemon=True).start()
    return proc


@contextmanager
def processes() -> Iterator[list[Proc]]:
    """A list to put started processes in; every one still running is stopped on the way out."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


def luister_env(
    database_url: str, redis_url: str, queue: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    return env | {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_REDIS_URL": redis_url,
        "LUISTER_QUEUE_NAME": queue,
        "LUISTER_DATA_DIR": str(data_dir),
        "LUISTER_SECRET_KEY": SECRET,
        "LUISTER_HTTP_ALLOW_HOSTS": "127.0.0.1",
        **{f"LUISTER_{k.upper()}": v for k, v in extra.items()},
    }


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# --- Sources and what got stored ---------------------------------------------------------------


async def add_sources(
    sessions: async_sessionmaker[AsyncSession],
    feeds: FeedServer,
    run: str,
    count: int,
    *,
    interval: int = 300,
) -> list[int]:
    key = Settings(secret_key=SECRET).secret_bytes()
    async with sessions() as session, session.begin():
        return [
            (
                await service.create_source(
                    session,
                    kind="rss",
                    name=f"{run}-feed-{n}",
                    config={"url": feeds.url(run, n)},
                    key=key,
                    poll_interval_seconds=interval,
                )
            ).id
            for n in range(count)
        ]


async def make_due(engine: AsyncEngine, source_ids: list[int]) -> None:
    """Make `source_ids` due now (as if their poll interval had passed)."""
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE sources SET next_poll_at = now() WHERE id = ANY(:ids)"),
            {"ids": source_ids},
        )


@dataclass(frozen=True)
class Stored:
    rows: int
    distinct: int
    ids: frozenset[str]


async def stored(engine: AsyncEngine, source_ids: list[int]) -> Stored:
    """Rows and distinct platform ids of the mentions from `source_ids`."""
    async with engine.connect() as conn:
        ids = [
            row[0]
            for row in await conn.execute(
                text("SELECT external_id FROM mentions WHERE source_id = ANY(:ids)"),
                {"ids": source_ids},
            )
        ]
    return Stored(len(ids), len(set(ids)), frozenset(ids))


async def count_rows(engine: AsyncEngine, source_ids: list[int]) -> int:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT count(*) FROM mentions WHERE source_id = ANY(:ids)"), {"ids": source_ids}
        )
    return int(value or 0)


def expected_ids(run: str, feeds: int, items: int) -> set[str]:
    return {item_id(run, n, i) for n in range(feeds) for i in range(items)}


class Sweeper:
    """The real `sweep_due_sources` job, run by the bench on demand (workers also run it)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], redis_url: str, queue: str):
        self.sessions = sessions
        self.redis_url = redis_url
        self.settings = Settings(
            database_url="postgresql+asyncpg://unused/unused",
            secret_key=SECRET,
            queue_name=queue,
        )

    async def __call__(self) -> int:
        from arq import create_pool
        from arq.connections import RedisSettings

        redis_settings = RedisSettings.from_dsn(self.redis_url)
        redis_settings.conn_retries = 0  # a sweep during a fault fails fast; the next one runs
        redis = await create_pool(
            redis_settings,
            job_serializer=lambda value: json.dumps(value, default=str).encode(),
            job_deserializer=json.loads,
            default_queue_name=self.settings.queue_name,
        )
        try:
            ctx = {"sessions": self.sessions, "settings": self.settings, "redis": redis}
            return await sweep_due_sources(ctx)
        finally:
            await redis.aclose()


def start_worker(name: str, env: dict[str, str]) -> Proc:
    """A `luister worker` serving its own metrics on a free port (to count its polls)."""
    port = free_port()
    worker_env = env | {
        "LUISTER_METRICS_WORKER_PORT": str(port),
        "LUISTER_METRICS_WORKER_HOST": "127.0.0.1",
    }
    proc = start(name, "worker", env=worker_env)
    proc.metrics_port = port
    return proc


async def polls_run(proc: Proc) -> int:
    """How many polls this worker ran (0 while it is starting: its metrics are not up yet)."""
    if proc.metrics_port is None:
        raise ValueError(f"{proc.name} serves no metrics")
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            page = (await client.get(f"http://127.0.0.1:{proc.metrics_port}/metrics")).text
    except httpx.TransportError:
        return 0
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in page.splitlines()
        if line.startswith("luister_poll_seconds_count")
    )


async def ready(client: httpx.AsyncClient, proc: Proc, base: str) -> bool:
    """`base`/readyz answers 200 (RuntimeError if the process died meanwhile)."""
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited:\n{proc.output()[-4000:]}")
    try:
        return (await client.get(f"{base}/readyz", timeout=5)).status_code == 200
    except httpx.TransportError:
        return False


async def seed_user(sessions: async_sessionmaker[AsyncSession], name: str) -> str:
    """A triager with an API token; the token."""
    from listener.accounts.service import create_token, create_user
    from listener.models import Role

    key = Settings(secret_key=SECRET).secret_bytes()
    async with sessions() as session, session.begin():
        user = await create_user(
            session, username=name, password="correct horse battery", role=Role.ADMIN
        )
        issued = await create_token(session, user=user, name=f"{name}-bench", key=key)
    return issued.token

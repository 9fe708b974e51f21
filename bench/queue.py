"""Queue latency at scale: 1,000,000 mentions in PostgreSQL, measured through the real API.

Run: python -m bench.queue [--rows 1000000] [--requests 200] [--reuse] [--search-index rum]
Builds the rows with set-based SQL (generate_series INSERT ... SELECT, secondary indexes
dropped during the load and rebuilt after, as a bulk load should), starts `luister serve` on
127.0.0.1 and times, over the same sequence of requests:
  - the first page of a filtered, priority-sorted queue, with each item's score explanation;
  - a full-text search: the first page of newest matches (the default), and ranked by
    relevance (with the default GIN index every match is ranked, so common words cost more;
    `--search-index rum` switches to a RUM index, which hands out matches best first);
  - GET /api/v1/me, the floor: authentication and one round trip, nothing else.
Prints median and p99 for each, as ratios to the floor's median and p99. Uses
LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else the local server; it works in
its own database (luister_bench_queue). --reuse keeps an existing build with the same row count.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder is first on sys.path and this file's name would shadow the
# standard library's `queue` (asyncio's thread pool imports it): the repository root instead.
# Run as a module (`python -m bench.queue`, as the README says) the folder is not there.
# (Appended first, so the remove always finds it: it then takes the first, script-made entry.)
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import tempfile
import time

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.ingest import search_index_option, use_search_index
from listener import migrate
from listener.accounts.service import create_token, create_user
from listener.db import make_engine, make_sessionmaker
from listener.models import Role
from listener.settings import Settings

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DATABASE = "luister_bench_queue"
SECRET = "bench-secret-that-is-long-enough-for-production-0123456789"
TABLES = ("authors", "mentions", "queue_items")

_EN_TEXT = (
    "the app is down again today my order never arrived who can help me why does payment "
    "fail refund please support team thanks great service love new update bike lane broken "
    "station dock empty late train delay price ticket account login password reset crash slow "
    "screen error message website outage customer question answer email phone store city "
    "park ride weekend morning evening driver route map battery charge scooter helmet rain"
)
_NL_TEXT = (
    "de app werkt niet weer vandaag mijn bestelling is nooit aangekomen wie kan mij helpen "
    "waarom mislukt betaling geld terug graag klantenservice bedankt mooie dienst nieuwe "
    "update fietspad kapot station stalling leeg trein vertraging prijs kaartje account "
    "inloggen wachtwoord storing traag scherm foutmelding website vraag antwoord telefoon "
    "winkel stad park rit weekend ochtend avond chauffeur route kaart accu opladen regen"
)
EN = _EN_TEXT.split()
NL = _NL_TEXT.split()
SEARCHES = ("outage", "refund", "storing", "helmet", "wachtwoord", '"payment fail"')


def _array(words: tuple[str, ...] | list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{w}'" for w in words) + "]::text[]"


def _word(array: str, salt: str) -> str:
    # A skewed (Zipf-like) pick: a few words are common, most are rare, as in real text.
    fraction = f"((hashint8(g * 16 + {salt}) & 2147483647)::float8 / 2147483648.0)"
    return f"({array})[1 + floor(power({fraction}, 3) * cardinality({array}))::int]"


def mentions_sql(rows: int) -> str:
    """One INSERT ... SELECT that makes `rows` mentions: 60% English, 30% Dutch, 10% other."""
    en, nl = _array(EN), _array(NL)
    words = " || ' ' || ".join(
        f"CASE WHEN g % 10 < 6 THEN {_word(en, str(k))} ELSE {_word(nl, str(k))} END"
        for k in range(9)
    )
    return f"""
    INSERT INTO mentions (id, source_id, external_id, platform, author_id, url, text, language,
        created_at, fetched_at, updated_at, likes, reposts, replies, fingerprint,
        sentiment_label, sentiment_score, intents)
    SELECT g, 1 + g % 3, 'bench-' || g, (ARRAY['mastodon','reddit','bluesky'])[1 + g % 3],
        1 + (g * 7) % 50000, 'https://example.org/p/' || g, {words},
        CASE WHEN g % 10 < 6 THEN 'en' WHEN g % 10 < 9 THEN 'nl' ELSE 'de' END,
        now() - (({rows} - g) * interval '3 seconds'), now(), now(),
        g % 17, g % 5, g % 3, md5(g::text),
        (ARRAY['negative','neutral','positive','neutral'])[1 + g % 4],
        ((g % 200) - 100) / 100.0,
        (ARRAY['["question"]','["complaint"]','[]','["praise"]','[]','["help_request"]',
               '["question","complaint"]'])[1 + g % 7]::jsonb
    FROM generate_series(1, {rows}) AS g
    """


QUEUE_SQL = """
INSERT INTO queue_items (mention_id, status, priority, version, status_changed_at, updated_at,
    received_at, priority_explain, priority_computed_at, sla_band, due_at, snooze_until_author)
SELECT m.id, s.status, s.priority, 1, m.created_at, m.created_at, m.created_at,
    jsonb_build_object(
        'score', s.priority, 'band', s.band, 'computed_at', now(),
        'reason', CASE WHEN s.priority >= 45 THEN 'question, negative, SLA due soon'
                       ELSE 'nothing urgent' END,
        'factors', jsonb_build_array(
            jsonb_build_object('name', 'intent', 'value', 0.9, 'weight', 30,
                               'points', 27, 'detail', 'question'),
            jsonb_build_object('name', 'recency', 'value', 0.5, 'weight', 10,
                               'points', 5, 'detail', null))),
    now(), s.band, m.created_at + interval '2 hours', false
FROM (
    SELECT id, created_at,
        (ARRAY['new','new','new','new','new','new','open','answered','resolved','spam'])
            [1 + (hashint8(id) & 2147483647) % 10] AS status,
        floor(power((hashint8(id * 31) & 2147483647)::float8 / 2147483648.0, 2) * 101)::int
            AS priority
    FROM mentions
) AS m
CROSS JOIN LATERAL (
    SELECT m.status, m.priority,
        CASE WHEN m.priority >= 65 THEN 'urgent' WHEN m.priority >= 45 THEN 'high'
             WHEN m.priority >= 25 THEN 'medium' ELSE 'low' END AS band
) AS s
"""


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


async def _count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM queue_items"))).scalar_one())


async def build(engine: AsyncEngine, rows: int) -> float:
    """Fill the database; seconds taken."""
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(text("SET maintenance_work_mem = '256MB'"))
        # Secondary indexes are rebuilt once after the load (much faster than row by row).
        indexes = (
            await conn.execute(
                text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                    "WHERE i.schemaname = 'public' AND i.tablename = ANY(:t) "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
                ),
                {"t": list(TABLES)},
            )
        ).all()
        for name, _ in indexes:
            await conn.execute(text(f'DROP INDEX "{name}"'))
        await conn.execute(
            text(
                "INSERT INTO sources (id, kind, name, config, enabled, cursor, "
                "poll_interval_seconds, consecutive_failures, total_polls, created_at, updated_at) "
                "SELECT g, k, 'bench-' || k, '{}', false, '{}', 300, 0, 0, now(), now() "
                "FROM unnest(ARRAY['mastodon','reddit','bluesky']) WITH ORDINALITY AS t(k, g)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO authors (id, platform, platform_id, handle, followers, "
                "first_seen_at, last_seen_at) "
                "SELECT g, (ARRAY['mastodon','reddit','bluesky'])[1 + g % 3], 'u' || g, "
                "'@u' || g, (power((hashint8(g) & 2147483647)::float8 / 2147483648.0, 4) "
                "* 200000)::int, now(), now() FROM generate_series(1, 50000) AS g"
            )
        )
        await conn.execute(text(mentions_sql(rows)))
        await conn.execute(text(QUEUE_SQL))
        for table, column in (("authors", "id"), ("mentions", "id"), ("sources", "id")):
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT max({column}) FROM {table}))"
                )
            )
        for _, definition in indexes:
            await conn.execute(text(definition))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


async def token_for(url: str) -> str:
    """An analyst token (the least privilege that reads the queue)."""
    settings = Settings(database_url=url, secret_key=SECRET)  # type: ignore[arg-type]
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session, session.begin():
        user = await create_user(
            session, username=f"bench-{os.getpid()}", password="bench-password", role=Role.ANALYST
        )
        issued = await create_token(session, user=user, name="bench", key=settings.secret_bytes())
    await engine.dispose()
    return issued.token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, port: int, data_dir: str) -> subprocess.Popen[bytes]:
    """`luister serve` on loopback, jobs off, quiet."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env |= {
        "LUISTER_DATABASE_URL": url,
        "LUISTER_SECRET_KEY": SECRET,
        "LUISTER_DATA_DIR": data_dir,
        "LUISTER_RUN_JOBS": "false",
        "LUISTER_LOG_LEVEL": "warning",
        # The bench asks faster than a person would; the limiter would answer 429.
        "LUISTER_RATE_LIMIT_ENABLED": "false",
    }
    command = [sys.executable, "-m", "api", "serve", "--host", "127.0.0.1"]
    log = (Path(data_dir) / "server.log").open("wb")
    return subprocess.Popen([*command, "--port", str(port)], env=env, stdout=log, stderr=log)


async def _wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(1200):  # two minutes: a loaded machine starts the server slowly
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


def _p99(ms: list[float]) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _summary(name: str, seconds: list[float], floor: list[float] | None) -> str:
    """Median and p99, each as a ratio to the floor's own median and p99."""
    ms = [s * 1000 for s in seconds]
    median, p99 = statistics.median(ms), _p99(ms)
    ratio = ""
    if floor:
        floor_ms = [s * 1000 for s in floor]
        ratio = (
            f"  {median / statistics.median(floor_ms):5.1f}x the floor's median,"
            f" p99 {p99 / _p99(floor_ms):5.1f}x the floor's p99"
        )
    return f"{name:<44} median {median:7.2f} ms   p99 {p99:7.2f} ms{ratio}"


async def measure(port: int, token: str, requests: int) -> dict[str, list[float]]:
    """Interleave the three kinds of request so they see the same conditions."""
    headers = {"Authorization": f"Bearer {token}"}
    kinds = {
        "floor": lambda i: ("/api/v1/me", {}),
        "queue": lambda i: (
            "/api/v1/mentions",
            {
                "status": ["new", "open"],
                "language": ("nl", "en")[i % 2],
                "sort": "priority",
                "limit": "50",
            },
        ),
        "search": lambda i: ("/api/v1/search", {"q": SEARCHES[i % len(SEARCHES)], "limit": "50"}),
        "relevance": lambda i: (
            "/api/v1/search",
            {"q": SEARCHES[i % len(SEARCHES)], "limit": "50", "sort": "relevance"},
        ),
    }
    timings: dict[str, list[float]] = {k: [] for k in kinds}
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await _wait_ready(client)
        for i in range(requests + 20):  # the first 20 of each warm caches and are not counted
            for kind, make in kinds.items():
                path, params = make(i)
                started = time.perf_counter()
                response = await client.get(path, params=params)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                if kind == "queue" and i == 0:
                    first = response.json()["items"][0]
                    assert first["priority_explain"]["reason"], "the explanation is missing"
                if i >= 20:
                    timings[kind].append(elapsed)
    return timings


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="Keep a build of the same size")
    search_index_option(parser)
    args = parser.parse_args()
    admin_url = (
        os.environ.get("LUISTER_BENCH_DATABASE_URL")
        or os.environ.get("LUISTER_TEST_DATABASE_URL")
        or DEFAULT_URL
    )
    url = await _database(admin_url, fresh=not args.reuse)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    if args.reuse and await _count(engine) == args.rows:
        print(f"reusing {args.rows:,} mentions in {DATABASE}")
    else:
        if args.reuse:
            await engine.dispose()
            url = await _database(admin_url, fresh=True)
            await asyncio.to_thread(migrate.upgrade, url)
            engine = make_engine(url)
        seconds = await build(engine, args.rows)
        print(f"built {args.rows:,} mentions with queue items in {seconds:.1f} s")
    await use_search_index(engine, args.search_index)
    async with engine.connect() as conn:
        matches = {
            q: (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM mentions WHERE search_vector @@ ("
                        "websearch_to_tsquery('english', :q) || websearch_to_tsquery('dutch', :q)"
                        " || websearch_to_tsquery('simple', :q))"
                    ),
                    {"q": q},
                )
            ).scalar_one()
            for q in SEARCHES
        }
    await engine.dispose()
    token = await token_for(url)
    port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = serve(url, port, data_dir)
        try:
            timings = await measure(port, token, args.requests)
        except Exception:
            print((Path(data_dir) / "server.log").read_text(), file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)

    floor = timings["floor"]
    print(f"{args.requests} timed requests of each kind, interleaved, one at a time, over HTTP")
    print(_summary("GET /api/v1/me (floor)", timings["floor"], None))
    print(_summary("queue: new+open, one language, sort=priority", timings["queue"], floor))
    print(_summary("search: first page, newest matches (default)", timings["search"], floor))
    print(_summary("search: first page, sort=relevance", timings["relevance"], floor))
    print("search matches: " + ", ".join(f"{q} {n:,}" for q, n in matches.items()))


if __name__ == "__main__":
    asyncio.run(main())

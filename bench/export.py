"""Export of 1,000,000 mentions from PostgreSQL: throughput and flat memory, against COPY.

Run: python -m bench.export [--rows 1000000] [--format jsonl] [--reuse]
Builds the rows with set-based SQL (INSERT ... SELECT generate_series) in its own database
(luister_bench_export, next to LUISTER_BENCH_DATABASE_URL, else LUISTER_TEST_DATABASE_URL, else
the local server), then streams the whole export (`moderation.queue.export`, the code behind
`luister export` and GET /api/v1/mentions/export) to a sink that drops them. Prints rows/s,
the peak RSS against the RSS after the first 10,000 rows (flat memory: about 1.0x), and a bare
`COPY (SELECT the same columns) TO STDOUT` of the same rows, with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time

from sqlalchemy import text
from sqlalchemy.engine import make_url

from api.wiring import session_factory
from listener import migrate
from listener.db import make_engine
from listener.settings import Settings
from moderation.queue import export
from moderation.queue.listing import MentionFilter

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DATABASE = "luister_bench_export"
SECRET = "bench-secret-that-is-long-enough-for-production-0123456789"
FIRST = 10_000

BUILD_SQL = [
    "INSERT INTO sources (id, kind, name, config, enabled, cursor, poll_interval_seconds, "
    "consecutive_failures, total_polls, created_at, updated_at) "
    "SELECT g, k, 'bench-' || k, '{}', false, '{}', 300, 0, 0, now(), now() "
    "FROM unnest(ARRAY['mastodon','reddit','bluesky']) WITH ORDINALITY AS t(k, g)",
    "INSERT INTO authors (id, platform, platform_id, handle, display_name, profile_url, "
    "followers, first_seen_at, last_seen_at) "
    "SELECT g, (ARRAY['mastodon','reddit','bluesky'])[1 + g % 3], 'u' || g, '@u' || g, "
    "'User ' || g, 'https://example.org/@u' || g, g % 5000, now(), now() "
    "FROM generate_series(1, 50000) AS g",
    """INSERT INTO mentions (id, source_id, external_id, platform, author_id, url, text, html,
        language, created_at, fetched_at, updated_at, likes, reposts, replies, fingerprint,
        sentiment_label, sentiment_score, intents, raw)
    SELECT g, 1 + g % 3, 'bench-' || g, (ARRAY['mastodon','reddit','bluesky'])[1 + g % 3],
        1 + (g * 7) % 50000, 'https://example.org/p/' || g,
        'Post ' || g || ' about the app: ' || md5(g::text) || ' ' || md5((g + 1)::text),
        '<p>Post ' || g || '</p>', CASE WHEN g % 10 < 6 THEN 'en' ELSE 'nl' END,
        now() - (g * interval '3 seconds'), now(), now(), g % 17, g % 5, g % 3, md5(g::text),
        (ARRAY['negative','neutral','positive','neutral'])[1 + g % 4],
        ((g % 200) - 100) / 100.0,
        (ARRAY['["question"]','["complaint"]','[]'])[1 + g % 3]::jsonb,
        jsonb_build_object('id', g, 'kind', 'bench')
    FROM generate_series(1, :rows) AS g""",
    "INSERT INTO queue_items (mention_id, status, priority, version, status_changed_at, "
    "updated_at, received_at) SELECT id, 'new', (id % 101)::int, 1, now(), now(), now() "
    "FROM mentions",
    "SELECT setval(pg_get_serial_sequence('mentions', 'id'), (SELECT max(id) FROM mentions))",
    "ANALYZE",
]

COPY_SQL = (
    "SELECT m.id, m.platform, m.external_id, m.url, m.text, m.html, m.language, m.created_at, "
    "m.reply_to_external_id, m.thread_external_id, m.likes, m.reposts, m.replies, m.score, "
    "m.views, m.raw, m.sentiment_label, m.sentiment_score, m.intents, a.platform_id, a.handle, "
    "a.display_name, a.profile_url, a.followers, s.name, q.status, q.priority "
    "FROM mentions m JOIN queue_items q ON q.mention_id = m.id JOIN sources s ON s.id = "
    "m.source_id LEFT JOIN authors a ON a.id = m.author_id "
    "WHERE m.deleted_at_source IS NULL ORDER BY m.id"
)


def rss_mib() -> float:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _database(admin_url: str, rows: int, *, reuse: bool) -> str:
    url = make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        exists = (
            await conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}
            )
        ).scalar()
        if exists and reuse:
            engine = make_engine(url)
            async with engine.connect() as c:
                have = (await c.execute(text("SELECT count(*) FROM mentions"))).scalar_one()
            await engine.dispose()
            if have == rows:
                await admin.dispose()
                return url
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    await admin.dispose()
    await asyncio.to_thread(migrate.upgrade, url)
    started = time.perf_counter()
    engine = make_engine(url)
    async with engine.begin() as conn:
        for statement in BUILD_SQL:
            await conn.execute(text(statement), {"rows": rows} if ":rows" in statement else {})
    await engine.dispose()
    print(f"built {rows:,} mentions in {time.perf_counter() - started:.1f} s")
    return url


async def _copy(url: str) -> tuple[int, float]:
    import asyncpg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(plain)
    size = 0

    async def sink(chunk: bytes) -> None:
        nonlocal size
        size += len(chunk)

    started = time.perf_counter()
    await conn.copy_from_query(COPY_SQL, output=sink)
    elapsed = time.perf_counter() - started
    await conn.close()
    return size, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=export.FORMATS, default="jsonl")
    parser.add_argument("--reuse", action="store_true", help="keep a build with as many rows")
    args = parser.parse_args()
    admin_url = os.environ.get("LUISTER_BENCH_DATABASE_URL") or os.environ.get(
        "LUISTER_TEST_DATABASE_URL", DEFAULT_URL
    )
    url = await _database(admin_url, args.rows, reuse=args.reuse)
    settings = Settings(database_url=url, secret_key=SECRET, run_jobs=False)  # type: ignore[arg-type]
    engine = make_engine(url)
    sessions = session_factory(settings, engine)
    written = size = 0
    at_first: float | None = None

    def on_rows(n: int) -> None:
        nonlocal written, at_first
        written += n
        if at_first is None and written >= FIRST:
            at_first = rss_mib()

    started = time.perf_counter()
    async for chunk in export.export(
        sessions, filters=MentionFilter(), fmt=args.format, on_rows=on_rows
    ):
        size += len(chunk)  # the bytes are made and dropped, as a fast sink would
    elapsed = time.perf_counter() - started
    peak = rss_mib()
    await engine.dispose()
    copy_size, copy_elapsed = await _copy(url)
    print(
        f"export {args.format}: {written:,} mentions, {size / 2**20:.0f} MiB in {elapsed:.1f} s "
        f"= {written / elapsed:,.0f} rows/s"
    )
    first = at_first or peak
    print(
        f"peak RSS {peak:.0f} MiB vs {first:.0f} MiB after the first {FIRST:,} rows "
        f"= {peak / first:.2f}x (flat memory: about 1.0x)"
    )
    print(
        f"bare COPY TO STDOUT of the same rows: {copy_size / 2**20:.0f} MiB "
        f"in {copy_elapsed:.1f} s "
        f"= {written / copy_elapsed:,.0f} rows/s; export / COPY time = "
        f"{elapsed / copy_elapsed:.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())

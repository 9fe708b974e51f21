"""Exports: the mentions a queue filter selects, as CSV, NDJSON or the import's JSONL.

Rows are read by keyset pagination on the mention id, `BATCH` at a time, each batch in a short
session of its own, and turned into bytes before the next is read: memory stays flat however many
mentions match, and no connection is held while a slow client reads.

`jsonl` is the shape `luister import` reads (`connectors.items.MentionIn`): importing an export
into an empty database stores the same mentions. With pseudonymisation, authors become keyed
hashes (HMAC-SHA256) and what names them (handle, name, profile, post URL, HTML, the raw payload,
the platform's ids, which often contain the handle) is left out or hashed alike.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Author, Mention, QueueItem, Source, utcnow
from moderation.queue._sql import dialect_of
from moderation.queue.listing import MentionFilter, count_mentions, filter_conditions, tags_for

ExportFormat = Literal["csv", "ndjson", "jsonl"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "ndjson", "jsonl")
MEDIA_TYPES: dict[ExportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "jsonl": "application/jsonl",
}
#: Mentions read (and encoded) per query.
BATCH = 1000
#: A caller's own pseudonym key must be at least this long (bytes of UTF-8).
MIN_KEY_BYTES = 16

CSV_COLUMNS = (
    "id",
    "created_at",
    "platform",
    "source",
    "external_id",
    "url",
    "author_id",
    "author_handle",
    "author_name",
    "author_followers",
    "language",
    "sentiment",
    "sentiment_score",
    "intents",
    "tags",
    "status",
    "priority",
    "likes",
    "reposts",
    "replies",
    "score",
    "views",
    "reply_to_external_id",
    "thread_external_id",
    "text",
)

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet will show as text: a leading formula character gets a `'`."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class Pseudonymiser:
    """Keyed hashes (HMAC-SHA256) that stand for authors and ids consistently in one export."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def derived(cls, secret: bytes, *, salt: bytes | None = None) -> Pseudonymiser:
        """A key from the service's secret and a fresh per-export salt: the same person has one
        pseudonym within an export and unlinkable ones across exports; without the secret a
        handle cannot be guessed back from its hash."""
        salt = salt if salt is not None else os.urandom(16)
        return cls(hmac.new(secret, b"luister-export-pseudonyms:" + salt, hashlib.sha256).digest())

    @classmethod
    def with_key(cls, key: str) -> Pseudonymiser:
        """The caller's own key: stable pseudonyms across exports (longitudinal research)."""
        raw = key.encode()
        if len(raw) < MIN_KEY_BYTES:
            raise ValueError(f"pseudonym key: at least {MIN_KEY_BYTES} bytes")
        return cls(hashlib.sha256(b"luister-export-key:" + raw).digest())

    def __call__(self, kind: str, value: str | None) -> str | None:
        if value is None:
            return None
        digest = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return f"anon_{digest[:24]}"


def _columns() -> Any:
    return (
        select(
            Mention.id,
            Mention.platform,
            Mention.external_id,
            Mention.url,
            Mention.text,
            Mention.html,
            Mention.language,
            Mention.created_at,
            Mention.reply_to_external_id,
            Mention.thread_external_id,
            Mention.likes,
            Mention.reposts,
            Mention.replies,
            Mention.score,
            Mention.views,
            Mention.raw,
            Mention.sentiment_label,
            Mention.sentiment_score,
            Mention.intents,
            Author.platform_id.label("author_platform_id"),
            Author.handle.label("author_handle"),
            Author.display_name.label("author_name"),
            Author.profile_url.label("author_profile_url"),
            Author.followers.label("author_followers"),
            Source.name.label("source_name"),
            QueueItem.status,
            QueueItem.priority,
        )
        .join(QueueItem, QueueItem.mention_id == Mention.id)
        .join(Source, Source.id == Mention.source_id)
        .outerjoin(Author, Author.id == Mention.author_id)
    )


@dataclass(frozen=True)
class ExportBatch:
    """One batch of rows with their tags."""

    rows: list[Row[Any]]
    tags: dict[int, tuple[str, ...]]


async def batches(
    sessions: async_sessionmaker[AsyncSession], *, filters: MentionFilter, size: int = BATCH
) -> AsyncIterator[ExportBatch]:
    """The matching mentions in id order, `size` at a time, each batch read in its own session."""
    after = 0
    now = utcnow()
    while True:
        async with sessions() as session:
            where = filter_conditions(filters, dialect=dialect_of(session), now=now)
            result = await session.execute(
                _columns()
                # The bound on both sides of the join: a merge join then starts both index
                # scans at the cursor instead of reading queue_items from its first row.
                .where(*where, Mention.id > after, QueueItem.mention_id > after)
                .order_by(Mention.id)
                .limit(size)
            )
            rows = list(result.all())
            tags = await tags_for(session, mention_ids=[r.id for r in rows])
        if not rows:
            return
        yield ExportBatch(rows, tags)
        if len(rows) < size:
            return
        after = rows[-1].id


async def count(sessions: async_sessionmaker[AsyncSession], *, filters: MentionFilter) -> int:
    """How many mentions an export of `filters` will hold (for a progress bar)."""
    async with sessions() as session:
        found, _ = await count_mentions(session, filters=filters, cap=2**62)
    return found


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def import_record(row: Row[Any], anon: Pseudonymiser | None = None) -> dict[str, Any]:
    """A row in the shape `luister import` reads (`MentionIn`)."""
    author: dict[str, Any] | None = None
    if row.author_platform_id is not None:
        author = {
            "platform_id": row.author_platform_id,
            "handle": row.author_handle,
            "display_name": row.author_name,
            "profile_url": row.author_profile_url,
            "followers": row.author_followers,
        }
    record: dict[str, Any] = {
        "platform": row.platform,
        "source": row.source_name,
        "external_id": row.external_id,
        "url": row.url,
        "text": row.text,
        "html": row.html,
        "language": row.language,
        "created_at": _iso(row.created_at),
        "author": author,
        "reply_to_external_id": row.reply_to_external_id,
        "thread_external_id": row.thread_external_id,
        "engagement": {
            "likes": row.likes,
            "reposts": row.reposts,
            "replies": row.replies,
            "score": row.score,
            "views": row.views,
        },
        "raw": row.raw,
    }
    if anon is not None:
        record |= {
            "external_id": anon("post", row.external_id),
            "reply_to_external_id": anon("post", row.reply_to_external_id),
            "thread_external_id": anon("post", row.thread_external_id),
            "url": None,
            "html": None,
            "raw": None,
        }
        if author is not None:
            record["author"] = {
                "platform_id": anon("author", f"{row.platform}:{row.author_platform_id}"),
                "followers": row.author_followers,
            }
    return record


def flat_record(
    row: Row[Any], tags: tuple[str, ...], anon: Pseudonymiser | None = None
) -> dict[str, Any]:
    """A row as the CSV and NDJSON exports show it: queue state and tagging included."""
    author_id = row.author_platform_id
    handle, name = row.author_handle, row.author_name
    external_id, url = row.external_id, row.url
    reply_to, thread = row.reply_to_external_id, row.thread_external_id
    if anon is not None:
        if author_id is not None:
            author_id = anon("author", f"{row.platform}:{author_id}")
        handle = name = url = None
        external_id = anon("post", external_id)
        reply_to, thread = anon("post", reply_to), anon("post", thread)
    return {
        "id": row.id,
        "created_at": _iso(row.created_at),
        "platform": row.platform,
        "source": row.source_name,
        "external_id": external_id,
        "url": url,
        "author_id": author_id,
        "author_handle": handle,
        "author_name": name,
        "author_followers": row.author_followers,
        "language": row.language,
        "sentiment": row.sentiment_label,
        "sentiment_score": row.sentiment_score,
        "intents": list(row.intents or []),
        "tags": list(tags),
        "status": row.status,
        "priority": row.priority,
        "likes": row.likes,
        "reposts": row.reposts,
        "replies": row.replies,
        "score": row.score,
        "views": row.views,
        "reply_to_external_id": reply_to,
        "thread_external_id": thread,
        "text": row.text,
    }


def _json_lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
    ).encode()


def _csv(records: list[dict[str, Any]], *, header: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow(
            csv_cell(";".join(v) if isinstance(v, list) else v)
            for v in (record[c] for c in CSV_COLUMNS)
        )
    return out.getvalue().encode()


async def export(
    sessions: async_sessionmaker[AsyncSession],
    *,
    filters: MentionFilter,
    fmt: ExportFormat,
    anon: Pseudonymiser | None = None,
    batch_size: int = BATCH,
    on_rows: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """The export as chunks of bytes, one per batch (the CSV header comes first)."""
    if fmt == "csv":
        yield _csv([], header=True)
    async for batch in batches(sessions, filters=filters, size=batch_size):
        if fmt == "jsonl":
            chunk = _json_lines([import_record(r, anon) for r in batch.rows])
        else:
            flat = [flat_record(r, batch.tags.get(r.id, ()), anon) for r in batch.rows]
            chunk = _csv(flat, header=False) if fmt == "csv" else _json_lines(flat)
        if on_rows is not None:
            on_rows(len(batch.rows))
        yield chunk

"""Large batches take the fast path (COPY on PostgreSQL) and store exactly what INSERT stores.

A batch of at least `COPY_FROM` new mentions is copied on PostgreSQL; any failure of the copy
(a concurrent ingest storing the same post first, a value the database refuses) falls back to
the INSERT path, so counts, skips and quarantine stay as they were. On SQLite these tests run
the INSERT path and hold it to the same outcomes.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.items import EngagementIn, MentionIn
from listener.models import Mention, QuarantinedItem, QueueItem, Source
from listener.sources import ingest
from listener.sources.ingest import COPY_FROM, ingest_mentions
from tests.factories import mention

Sessions = async_sessionmaker[AsyncSession]
LARGE = COPY_FROM + 36
# Set when the row is written, or computed from the clock by the priority reaction: they
# differ between two runs by design.
_WHEN = {"id", "mention_id", "fetched_at", "updated_at", "status_changed_at", "received_at"}
_WHEN |= {"priority", "priority_explain", "priority_computed_at", "due_at"}


def _varied(n: int) -> dict[str, Any]:
    """Mentions that exercise every kind of column: JSON, nulls, non-ASCII, big counts."""
    item = mention(n)
    if n % 3 == 0:
        item["raw"] = {"id": n, "tags": ["fiets", "bühne"], "nested": {"none": None}}
    if n % 4 == 0:
        item["text"] = f"Ünïcødé ‘quotes’ 🚲 straße {n}"
        item["html"] = None
        item["engagement"] = {"likes": None, "views": 2**31 - 1, "score": -5}
    if n % 5 == 0:
        item.pop("author")
        item["language"] = None
    return item


async def _snapshot(sessions: Sessions) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Mention, QueueItem)
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .order_by(Mention.external_id)
        )
        return [(_columns(m, Mention), _columns(q, QueueItem)) for m, q in rows]


def _columns(row: Any, model: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs if c.key not in _WHEN}


async def _count(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_large_batch_stores_exactly_what_small_batches_store(
    sessions: Sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = [_varied(n) for n in range(LARGE)]
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items)
    assert report.counts() == {"new": LARGE, "updated": 0, "unchanged": 0, "rejected": 0}
    large = await _snapshot(sessions)
    async with sessions() as session, session.begin():
        await session.execute(delete(Mention))

    monkeypatch.setattr(ingest, "COPY_FROM", LARGE + 1)  # the INSERT path, batch for batch
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items)
    assert report.counts() == {"new": LARGE, "updated": 0, "unchanged": 0, "rejected": 0}

    assert await _snapshot(sessions) == large
    assert len(large) == LARGE
    assert {q["status"] for _, q in large} == {"new"}


async def test_concurrent_large_ingests_of_the_same_items_do_not_duplicate(
    sessions: Sessions,
) -> None:
    items = [mention(i) for i in range(LARGE)]
    async with sessions() as session, session.begin():
        await ingest_mentions(session, items[:1])  # the source exists before the race

    async def ingest_once() -> dict[str, int]:
        async with sessions() as session, session.begin():
            return (await ingest_mentions(session, items)).counts()

    first, second = await asyncio.gather(ingest_once(), ingest_once())

    assert first["new"] + second["new"] == LARGE - 1
    assert first["rejected"] == second["rejected"] == 0
    assert await _count(sessions, Mention) == LARGE
    assert await _count(sessions, QueueItem) == LARGE


def _entry(n: int, **changes: Any) -> MentionIn:
    """A feed entry that skipped validation, as a buggy caller could hand to ingest."""
    values: dict[str, Any] = {
        "platform": "rss",
        "source": None,
        "external_id": f"https://blog.example/{n}",
        "url": None,
        "text": f"Entry {n} about Fietsbaan",
        "html": None,
        "language": "en",
        "created_at": datetime(2026, 11, 17, 10, n % 60, tzinfo=UTC),
        "author": None,
        "reply_to_external_id": None,
        "thread_external_id": None,
        "engagement": EngagementIn(),
        "raw": None,
    }
    values.update(changes)
    return MentionIn.model_construct(**values)


async def test_one_item_the_database_refuses_in_a_large_batch_is_quarantined_alone(
    sessions: Sessions,
) -> None:
    items = [_entry(n) for n in range(LARGE)]
    items[7] = _entry(7, engagement=EngagementIn.model_construct(likes=10**30))
    async with sessions() as session, session.begin():
        source = Source(name="blog", kind="rss", config={}, cursor={}, enabled=False)
        session.add(source)
        await session.flush()
        report = await ingest_mentions(session, items, source_id=source.id, tag=False)

    assert report.counts() == {"new": LARGE - 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert [r.index for r in report.rejections] == [7]
    assert report.rejections[0].reason.startswith("the database refused it: ")
    assert await _count(sessions, Mention) == LARGE - 1
    assert await _count(sessions, QueueItem) == LARGE - 1
    async with sessions() as session:
        (row,) = (await session.execute(select(QuarantinedItem))).scalars().all()
    assert (row.stage, row.external_id) == ("store", "https://blog.example/7")

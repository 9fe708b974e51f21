"""A batch goes through the reactions as its mentions would one by one (issue 16).

The wired reactions work per batch (the event log takes its ids up front and writes each
`mention.created` once; priorities are stored in one statement). What integrations and the
queue see must not depend on that: the same events, in the same order, with the same payloads,
and the same priorities and SLA deadlines as when every mention is ingested on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from connectors.items import MentionIn
from listener.models import IntegrationEvent, Mention, QueueItem
from listener.own_accounts import add_own_account
from listener.sources.ingest import COPY_FROM, ingest_mentions
from moderation.queue import priority
from tests.conftest import _empty_tables

NOW = datetime.now(UTC).replace(microsecond=0)
COUNT = COPY_FROM + 6  # large enough for PostgreSQL's COPY path


def _items() -> list[dict[str, Any]]:
    items = []
    for i in range(COUNT):
        ours = i % 25 == 7  # a post of our own account: no queue item, no mention.created
        items.append(
            {
                "platform": "mastodon",
                "source": "batch-test",
                "external_id": f"post-{i}",
                "url": f"https://mastodon.example/post/{i}",
                "text": (
                    f"the app is down again, refund please ({i})"
                    if i % 3 == 0
                    else f"nice ride along the canal today ({i})"
                ),
                "language": "en",
                "created_at": (NOW - timedelta(minutes=5 + i)).isoformat(),
                "author": {
                    "platform_id": "us" if ours else f"user-{i % 9}",
                    "handle": "@fietsbaan" if ours else f"@user{i % 9}",
                    "followers": 400 * (i % 9),
                },
                "engagement": {"likes": i % 17, "reposts": i % 5, "replies": i % 3},
            }
        )
    return items


async def _snapshot(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Events in log order and queue rows, with database ids replaced by external ids."""
    async with sessions() as session:
        external = dict((await session.execute(select(Mention.id, Mention.external_id))).all())
        events = []
        for event in (
            await session.execute(select(IntegrationEvent).order_by(IntegrationEvent.id))
        ).scalars():
            payload = dict(event.payload)
            if "mention" in payload:
                mention = dict(payload["mention"])
                mention["id"] = external[mention["id"]]
                mention.pop("source_id")
                payload["mention"] = mention
            subject = external[event.mention_id] if event.mention_id is not None else None
            events.append((event.type, subject, payload))
        queue = {
            external[row.mention_id]: (
                row.status,
                row.priority,
                row.sla_band,
                row.due_at,
                row.priority_explain,
            )
            for row in (await session.execute(select(QueueItem))).scalars()
        }
    return {"events": events, "queue": queue}


async def _prepare(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await add_own_account(session, platform="mastodon", handle="@fietsbaan", label="Fietsbaan")


async def test_a_batch_yields_the_events_and_priorities_of_one_by_one_ingest(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(priority, "utcnow", lambda: NOW)  # one clock for both runs' scores
    items = [MentionIn.model_validate(item) for item in _items()]

    await _prepare(sessions)
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items, tag=False)
    assert report.new == COUNT
    batch = await _snapshot(sessions)

    await _empty_tables(engine)
    await _prepare(sessions)
    for item in items:
        async with sessions() as session, session.begin():
            await ingest_mentions(session, [item], tag=False)
    one_by_one = await _snapshot(sessions)

    ours = {f"post-{i}" for i in range(COUNT) if i % 25 == 7}
    created = [e for e in batch["events"] if e[0] == "mention.created"]
    assert [e[1] for e in created] == [f"post-{i}" for i in range(COUNT) if f"post-{i}" not in ours]
    assert all(e[2]["mention"]["priority"] == batch["queue"][e[1]][1] for e in created)
    assert set(batch["queue"]) == {f"post-{i}" for i in range(COUNT)} - ours
    assert len({row[1] for row in batch["queue"].values()}) > 1  # the scores differ
    assert batch == one_by_one

"""Setting up outbox tests: a source on a fake platform, a heard mention, staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.discourse import post_to_mention
from connectors.mastodon import status_to_mention
from listener.accounts.service import create_user
from listener.models import OutboxMessage, QueueItem, Role, User
from listener.settings import Settings
from listener.sources import service as sources
from listener.sources.ingest import ingest_mentions
from tests.connectors.fake_platforms import FakeDiscourse, FakeMastodon


async def add_source(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    kind: str,
    config: dict[str, Any],
    name: str | None = None,
) -> int:
    """A source with credentials, stored as the API would store it."""
    async with sessions() as session, session.begin():
        source = await sources.create_source(
            session,
            kind=kind,
            name=name or f"{kind}-org",
            config=config,
            key=settings.secret_bytes(),
        )
        # Only written through here: no worker should poll the fake platform meanwhile.
        sources.pause(source, "written through only")
        return source.id


async def mastodon_source(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fake: FakeMastodon
) -> int:
    """A Mastodon source whose token can write."""
    config = {"instance_url": fake.server.base_url, "hashtag": "fietsbaan", "access_token": "tok"}
    return await add_source(sessions, settings, kind="mastodon", config=config)


async def hear_status(
    sessions: async_sessionmaker[AsyncSession],
    source_id: int,
    status: dict[str, Any],
    *,
    minutes_ago: int = 0,
) -> int:
    """Ingest a fake Mastodon status as the connector would; return the mention id."""
    created = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    status["created_at"] = created.isoformat().replace("+00:00", "Z")
    item = status_to_mention(status, instance_host="127.0.0.1", uri_by_id={})
    assert item is not None
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [item], source_id=source_id)
    return report.new_mention_ids[0]


async def discourse_source(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fake: FakeDiscourse
) -> int:
    """A Discourse source with an API key."""
    config = {"base_url": fake.server.base_url, "api_key": "key", "api_username": "luister"}
    return await add_source(sessions, settings, kind="discourse", config=config)


async def hear_post(
    sessions: async_sessionmaker[AsyncSession], source_id: int, post: dict[str, Any], base_url: str
) -> int:
    """Ingest a fake Discourse post as the connector would; return the mention id."""
    item = post_to_mention(post, base_url=base_url, host="127.0.0.1", topics={}, by_number={})
    assert item is not None
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [item], source_id=source_id)
    return report.new_mention_ids[0]


async def staff(
    sessions: async_sessionmaker[AsyncSession], username: str, role: Role = Role.MODERATOR
) -> User:
    """A staff member."""
    async with sessions() as session, session.begin():
        return await create_user(session, username=username, password="correct horse", role=role)


async def row(sessions: async_sessionmaker[AsyncSession], outbox_id: int) -> OutboxMessage:
    """The outbox row as stored now."""
    async with sessions() as session:
        found = await session.get(OutboxMessage, outbox_id)
        assert found is not None
        return found


async def item_status(sessions: async_sessionmaker[AsyncSession], mention_id: int) -> str:
    """The queue status of a mention as stored now."""
    async with sessions() as session:
        return (
            await session.execute(
                select(QueueItem.status).where(QueueItem.mention_id == mention_id)
            )
        ).scalar_one()

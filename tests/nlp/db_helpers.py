"""Helpers for the NLP tests that use the database: ingest texts, read tags back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, MentionTopic, Topic
from listener.sources.ingest import ingest_mentions
from tests.factories import mention


async def ingest_texts(
    sessions: async_sessionmaker[AsyncSession],
    texts: list[str],
    *,
    language: str | None = "en",
    tag: bool = True,
    start: int = 0,
    **overrides: Any,
) -> list[int]:
    """Ingest one mention per text (in one batch); return their ids in order."""
    items = [
        mention(start + n, text=text, language=language, **overrides)
        for n, text in enumerate(texts)
    ]
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items, tag=tag)
    return report.new_mention_ids


async def stored(sessions: async_sessionmaker[AsyncSession], mention_id: int) -> Mention:
    """The mention as stored now."""
    async with sessions() as session:
        found = await session.get(Mention, mention_id)
        assert found is not None
        return found


async def topics_of(
    sessions: async_sessionmaker[AsyncSession], mention_id: int
) -> dict[str, list[dict[str, Any]]]:
    """Topic name -> matched spans for a mention."""
    async with sessions() as session:
        rows = await session.execute(
            select(Topic.name, MentionTopic.spans)
            .join(MentionTopic, MentionTopic.topic_id == Topic.id)
            .where(MentionTopic.mention_id == mention_id)
        )
        return {name: list(spans) for name, spans in rows}


async def add_topic(
    sessions: async_sessionmaker[AsyncSession], name: str, keywords: dict[str, list[str]]
) -> int:
    """Create a topic directly in the table; return its id."""
    async with sessions() as session, session.begin():
        topic = Topic(name=name, description=name.title(), keywords=keywords)
        session.add(topic)
        await session.flush()
        return topic.id

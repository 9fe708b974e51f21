"""Importing a taxonomy file (or the built-in example) creates or updates topics by name."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.nlp.errors import InvalidRequest
from listener.nlp.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from listener.nlp.topics_store import import_topics, list_topics, taxonomy_items

Sessions = async_sessionmaker[AsyncSession]


async def test_importing_twice_creates_then_changes_nothing_then_updates_by_name(
    sessions: Sessions,
) -> None:
    items = taxonomy_items(DEFAULT_TAXONOMY)
    async with sessions() as session, session.begin():
        first = await import_topics(session, items=items, actor="cli")
        again = await import_topics(session, items=items, actor="cli")
    assert first == {"created": len(items), "updated": 0, "unchanged": 0}
    assert again == {"created": 0, "updated": 0, "unchanged": len(items)}
    edited = Taxonomy.from_dicts([{"key": "pricing", "terms": {"en": ["price"]}}])
    async with sessions() as session, session.begin():
        counts = await import_topics(session, items=taxonomy_items(edited), actor="cli")
        pricing = {t.name: t for t in await list_topics(session)}["pricing"]
    assert counts == {"created": 0, "updated": 1, "unchanged": 0}
    assert pricing.keywords == {"en": ["price"]}


async def test_a_file_with_unusable_terms_is_refused_whole(sessions: Sessions) -> None:
    items = [{"name": "ok", "keywords": {"en": ["fine"]}}, {"name": "bad", "keywords": {"xyz": []}}]
    with pytest.raises(InvalidRequest, match="xyz"):
        async with sessions() as session, session.begin():
            await import_topics(session, items=items, actor="cli")
    async with sessions() as session:
        assert await list_topics(session) == []

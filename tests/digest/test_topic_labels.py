"""The digest names topics as its reader says them: the label in the digest's language."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.builder import build_digest
from listener.digest.periods import Period
from listener.digest.render import to_html, to_markdown
from listener.models import Topic
from tests.digest.conftest import NOW
from tests.digest.data import TZ, History


async def test_topics_read_as_their_label_in_the_digests_language(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Topic)
            .where(Topic.name == "outage")
            .values(labels={"en": "Outages", "nl": "Storingen"})
        )
    week = Period.week("2026-W47", TZ)
    async with sessions() as session:
        dutch = await build_digest(session, period=week, target_hours=8, now=NOW, language="nl")
        english = await build_digest(session, period=week, target_hours=8, now=NOW, language="en")

    assert [(t.topic, t.label) for t in dutch.topics.top][:1] == [("outage", "Storingen")]
    assert [(t.topic, t.label) for t in english.topics.top][:1] == [("outage", "Outages")]
    markdown = to_markdown(dutch, "nl")
    assert "| Storingen | 5 |" in markdown
    assert "| outage |" not in markdown and "**outage**" not in markdown
    assert "<strong>Storingen</strong>" in to_html(dutch, "nl", images={})
    # A topic without labels reads as words, never as its key.
    assert {t.label for t in dutch.topics.top} >= {"Storingen"}
    assert all(t.label and "_" not in t.label for t in dutch.topics.top)

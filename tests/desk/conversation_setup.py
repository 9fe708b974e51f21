"""Setting up the conversation, reply and questions screens' tests: a Mastodon-shaped platform
on loopback, a source that can write to it, and mentions heard from it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.mastodon import status_to_mention
from listener.models import Author, Mention, QueueItem
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.moderation.outbox_helpers import mastodon_source

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "javascript:alert(1)"


@contextmanager
def loopback_mastodon() -> Iterator[FakeMastodon]:
    """A Mastodon-shaped platform on 127.0.0.1 that keeps what it is sent."""
    with LoopbackServer("127.0.0.1") as server:
        yield FakeMastodon(server)


@dataclass
class Heard:
    """A source on the fake platform and a mention heard from it."""

    source_id: int
    mention_id: int
    status: dict[str, Any]


async def hear(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    fake: FakeMastodon,
    text: str = "My rides get lost since the update",
    *,
    acct: str = "anna@mastodon.example",
    source_id: int | None = None,
    in_reply_to_id: str | None = None,
    display_name: str | None = None,
) -> Heard:
    """Hear one status (on a new writable source unless `source_id` is given)."""
    if source_id is None:
        source_id = await mastodon_source(sessions, settings, fake)
    status = fake.add_status(text, acct=acct, in_reply_to_id=in_reply_to_id)
    if display_name is not None:
        status["account"]["display_name"] = display_name
    item = status_to_mention(
        status,
        instance_host="127.0.0.1",
        uri_by_id={k: v["uri"] for k, v in fake.statuses.items()},
    )
    assert item is not None
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [item], source_id=source_id)
    return Heard(source_id, report.new_mention_ids[0], status)


async def version_of(sessions: async_sessionmaker[AsyncSession], mention_id: int) -> int:
    """The queue item's version as stored now."""
    async with sessions() as session:
        return (
            await session.execute(
                select(QueueItem.version).where(QueueItem.mention_id == mention_id)
            )
        ).scalar_one()


async def poison(sessions: async_sessionmaker[AsyncSession], mention_id: int) -> None:
    """Give a mention and its author every payload a hostile post could carry."""
    async with sessions() as session, session.begin():
        mention = await session.get(Mention, mention_id)
        assert mention is not None
        await session.execute(
            update(Mention)
            .where(Mention.id == mention_id)
            .values(
                text=f"Hi {SCRIPT} {IMG} see {JS_LINK}",
                html=f'<p>Hi {SCRIPT} {IMG} <a href="{JS_LINK}">see</a></p>',
                url=JS_LINK,
            )
        )
        await session.execute(
            update(Author)
            .where(Author.id == mention.author_id)
            .values(display_name=f"Eve {SCRIPT}", profile_url=JS_LINK)
        )


def assert_inert(html: str) -> None:
    """No payload survived as markup: no script element, no event handler, no javascript: URL."""
    assert "<script>alert" not in html
    assert not re.search(r"<img[^>]*onerror", html, re.IGNORECASE)
    assert not re.search(r"""href=["']?\s*javascript:""", html, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, escaped

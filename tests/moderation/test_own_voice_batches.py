"""Our replies answer what they reply to, whichever arrives first and in batches (issues 12, 16).

The own-voice reaction finds our earlier replies from what a batch holds (the batch's external
ids, our own authors) rather than by reading the platform's mentions. What the queue shows must
be what it showed before: a reply answers the mention on its own platform only, at the reply's
time, and a post written before its account was configured is linked once it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.items import MentionIn
from listener.models import Mention, QueueItem
from listener.settings import Settings
from listener.sources.ingest import COPY_FROM, ingest_mentions
from moderation.queue import own
from tests.factories import BASE_TIME

BRAND = {"platform_id": "brand", "handle": "@brand@mastodon.example"}
# A handle configured without an instance matches the same name on any instance.
BRAND_ELSEWHERE = {"platform_id": "brand-2", "handle": "@brand@other.example"}


def _post(
    external_id: str,
    minutes: int,
    *,
    platform: str = "mastodon",
    author: dict[str, Any] | None = None,
    reply_to: str | None = None,
) -> MentionIn:
    who = author or {"platform_id": f"fan-{external_id}", "handle": f"@fan{minutes}"}
    return MentionIn.model_validate(
        {
            "platform": platform,
            "source": f"{platform}-own-test",
            "external_id": external_id,
            "url": f"https://{platform}.example/{external_id}",
            "text": f"Is the app down? ({external_id})",
            "language": "en",
            "created_at": (BASE_TIME + timedelta(minutes=minutes)).isoformat(),
            "author": who,
            "reply_to_external_id": reply_to,
        }
    )


def _filler(start: int) -> list[MentionIn]:
    """Enough other mentions for PostgreSQL's COPY path."""
    return [_post(f"filler-{i}", 500 + i) for i in range(start, start + COPY_FROM)]


async def _queue(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, str], Any]:
    """(platform, external id): (status, first response) or None when not queued."""
    async with sessions() as session:
        rows = await session.execute(
            select(Mention.platform, Mention.external_id, QueueItem.status, QueueItem).outerjoin(
                QueueItem, QueueItem.mention_id == Mention.id
            )
        )
        return {
            (p, e): None if item is None else (status, item.first_response_at)
            for p, e, status, item in rows
        }


def _at(minutes: int) -> datetime:
    return BASE_TIME + timedelta(minutes=minutes)


async def test_replies_stored_first_answer_their_mention_on_the_same_platform_only(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session, session.begin():
        await own.add_account(session, settings=settings, platform="mastodon", handle="@brand")

    # A backfill brings our replies first; one answers a mention in the same batch.
    async with sessions() as session, session.begin():
        await ingest_mentions(
            session,
            [
                _post("ours-1", 30, author=BRAND, reply_to="m-1"),
                _post("ours-2", 40, author=BRAND_ELSEWHERE, reply_to="m-2"),
                _post("ours-9", 20, author=BRAND, reply_to="shared-9"),
                _post("m-3", 1),
                _post("ours-3", 50, author=BRAND, reply_to="m-3"),
                *_filler(0),
            ],
            tag=False,
        )
    # The mentions they answer come later, in a batch with others; reddit has a post whose
    # id equals the one our mastodon reply answers: it is not ours to answer.
    async with sessions() as session, session.begin():
        await ingest_mentions(
            session,
            [
                _post("m-1", 2),
                _post("m-2", 3),
                _post("shared-9", 4, platform="reddit"),
                _post("m-4", 5),
                *_filler(COPY_FROM),
            ],
            tag=False,
        )
    queue = await _queue(sessions)
    assert queue[("mastodon", "m-1")] == ("answered", _at(30))
    assert queue[("mastodon", "m-2")] == ("answered", _at(40))
    assert queue[("mastodon", "m-3")] == ("answered", _at(50))
    assert queue[("mastodon", "m-4")] == ("new", None)
    assert queue[("reddit", "shared-9")] == ("new", None)
    assert all(queue[("mastodon", e)] is None for e in ("ours-1", "ours-2", "ours-3", "ours-9"))

    # The mastodon post our reply answers arrives at last, on its own.
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [_post("shared-9", 6)], tag=False)
    queue = await _queue(sessions)
    assert queue[("mastodon", "shared-9")] == ("answered", _at(20))
    assert queue[("reddit", "shared-9")] == ("new", None)


async def test_a_reply_from_before_the_account_was_ours_answers_once_it_is(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    # No own account yet: our reply is an incoming mention like any other.
    async with sessions() as session, session.begin():
        await ingest_mentions(
            session, [_post("m-1", 1), _post("ours-1", 15, author=BRAND, reply_to="m-1")], tag=False
        )
    queue = await _queue(sessions)
    assert queue[("mastodon", "m-1")] == ("new", None)
    assert queue[("mastodon", "ours-1")] == ("new", None)

    async with sessions() as session, session.begin():
        _, left = await own.add_account(
            session, settings=settings, platform="mastodon", handle="@brand@mastodon.example"
        )
    assert left == 1
    queue = await _queue(sessions)
    assert queue[("mastodon", "ours-1")] is None
    assert queue[("mastodon", "m-1")] == ("answered", _at(15))

    # Later batches keep linking: a new mention our earlier reply answers.
    async with sessions() as session, session.begin():
        await ingest_mentions(
            session, [_post("ours-2", 25, author=BRAND, reply_to="m-2")], tag=False
        )
        await ingest_mentions(session, [_post("m-2", 2)], tag=False)
    assert (await _queue(sessions))[("mastodon", "m-2")] == ("answered", _at(25))

"""Ingest stores each mention once, refreshes what changed and quarantines what is invalid."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Author, Mention, QuarantinedItem, QueueItem, Source, utcnow
from listener.sources.ingest import ingest_mentions
from tests.factories import mention


async def _count(session: AsyncSession, model: type) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_new_mentions_are_stored_and_queued(session: AsyncSession) -> None:
    report = await ingest_mentions(session, [mention(i) for i in range(20)])
    await session.commit()

    assert report.counts() == {"new": 20, "updated": 0, "unchanged": 0, "rejected": 0}
    assert await _count(session, Mention) == 20
    statuses = (await session.execute(select(QueueItem.status))).scalars().all()
    assert statuses == ["new"] * 20
    source = (await session.execute(select(Source))).scalar_one()
    assert (source.name, source.kind) == ("mastodon-test", "mastodon")


async def test_ingesting_the_same_items_again_changes_nothing(session: AsyncSession) -> None:
    items = [mention(i) for i in range(30)]
    await ingest_mentions(session, items)
    await session.commit()

    again = await ingest_mentions(session, items)
    await session.commit()

    assert again.counts() == {"new": 0, "updated": 0, "unchanged": 30, "rejected": 0}
    assert await _count(session, Mention) == 30
    assert await _count(session, QueueItem) == 30


async def test_changed_metrics_are_refreshed_and_counted_as_updated(session: AsyncSession) -> None:
    await ingest_mentions(session, [mention(1), mention(2)])
    await session.commit()

    refreshed = mention(1, engagement={"likes": 42, "reposts": 3, "replies": 1})
    report = await ingest_mentions(session, [refreshed, mention(2)])
    await session.commit()

    assert (report.new, report.updated, report.unchanged) == (0, 1, 1)
    likes = (
        await session.execute(select(Mention.likes).where(Mention.external_id.like("%/1001")))
    ).scalar_one()
    assert likes == 42


async def test_invalid_items_are_quarantined_while_valid_ones_are_stored(
    session: AsyncSession,
) -> None:
    bad_date = mention(2, created_at="yesterday-ish")
    no_text = mention(3, text="")
    report = await ingest_mentions(session, [mention(1), bad_date, no_text, mention(4)])
    await session.commit()

    assert (report.new, report.rejected) == (2, 2)
    assert [r.index for r in report.rejections] == [1, 2]
    assert "created_at" in report.rejections[0].reason
    assert "text" in report.rejections[1].reason
    quarantined = (await session.execute(select(QuarantinedItem))).scalars().all()
    assert len(quarantined) == 2
    assert all(q.stage == "validation" for q in quarantined)
    assert "yesterday-ish" in quarantined[0].payload


async def test_authors_are_created_once_and_linked(session: AsyncSession) -> None:
    await ingest_mentions(session, [mention(i) for i in range(21)])  # authors u0..u6
    await session.commit()

    assert await _count(session, Author) == 7
    linked = (
        await session.execute(select(func.count()).where(Mention.author_id.is_not(None)))
    ).scalar_one()
    assert linked == 21


async def test_author_details_refresh_but_missing_fields_keep_what_we_knew(
    session: AsyncSession,
) -> None:
    await ingest_mentions(session, [mention(0)])
    await session.commit()
    renamed = mention(
        7, author={"platform_id": "u0", "display_name": "Anna Renamed", "followers": None}
    )
    await ingest_mentions(session, [renamed])
    await session.commit()

    author = (await session.execute(select(Author))).scalar_one()
    assert author.display_name == "Anna Renamed"
    assert author.followers == 100  # the platform did not say; the old count stays


async def test_the_same_post_twice_in_one_batch_is_stored_once(session: AsyncSession) -> None:
    report = await ingest_mentions(session, [mention(5), mention(5, text="edited")])
    await session.commit()

    assert (report.new, report.unchanged) == (1, 1)
    text = (await session.execute(select(Mention.text))).scalar_one()
    assert text == "edited"


async def test_explicit_source_id_files_every_item_under_it(session: AsyncSession) -> None:
    source = Source(kind="rss", name="press", config={}, cursor={})
    session.add(source)
    await session.flush()
    report = await ingest_mentions(
        session, [mention(1, platform="rss", source=None)], source_id=source.id
    )
    await session.commit()

    assert report.new == 1
    assert (await session.execute(select(Mention.source_id))).scalar_one() == source.id


async def test_concurrent_ingests_of_the_same_items_do_not_duplicate(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    items = [mention(i) for i in range(50)]
    async with sessions() as session, session.begin():
        await ingest_mentions(session, items[:1])  # the source exists before the race

    async def ingest_once() -> dict[str, int]:
        async with sessions() as session, session.begin():
            return (await ingest_mentions(session, items)).counts()

    first, second = await asyncio.gather(ingest_once(), ingest_once())

    assert first["new"] + second["new"] == 49
    async with sessions() as session:
        assert await _count(session, Mention) == 50
        assert await _count(session, QueueItem) == 50


async def test_a_status_heard_on_two_instances_is_stored_once(session: AsyncSession) -> None:
    on_one = mention(1, source="mastodon-social")
    on_other = mention(1, source="mastodon-nl", engagement={"likes": 9})
    first = await ingest_mentions(session, [on_one])
    second = await ingest_mentions(session, [on_other])
    await session.commit()

    assert (first.new, second.new, second.updated) == (1, 0, 1)
    assert await _count(session, Mention) == 1


async def test_per_source_ids_are_not_merged_across_sources(session: AsyncSession) -> None:
    # Stack Exchange question ids repeat across sites: two sources, two mentions.
    items = [
        mention(1, platform="stackexchange", source=f"se-{site}", external_id="4711")
        for site in ("bicycles", "travel")
    ]
    report = await ingest_mentions(session, items)
    await session.commit()
    assert report.new == 2


async def test_one_status_from_two_instances_in_one_batch_is_stored_once(
    session: AsyncSession,
) -> None:
    batch = [mention(1, source="mastodon-social"), mention(1, source="mastodon-nl")]
    report = await ingest_mentions(session, batch)
    await session.commit()
    assert (report.new, report.unchanged) == (1, 1)
    assert await _count(session, Mention) == 1


async def test_a_mention_deleted_at_its_source_is_not_written_back_by_a_later_poll(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    original = mention(1, text="Original words")
    async with sessions() as session, session.begin():
        (mention_id,) = (await ingest_mentions(session, [original])).new_mention_ids
    async with sessions() as session, session.begin():
        stored = await session.get(Mention, mention_id)
        assert stored is not None
        stored.deleted_at_source = utcnow()
        stored.text = ""

    husk = mention(1, text="[removed] but served again")
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [husk])

    assert (report.new, report.updated, report.unchanged) == (0, 0, 1)
    async with sessions() as session:
        again = await session.get(Mention, mention_id)
    assert again is not None and again.text == ""

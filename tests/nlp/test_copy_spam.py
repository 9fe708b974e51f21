"""Copy-paste spam: the same text with a link or a promotion from three or more authors within
a day is spam, with the reason; similar complaints without a link are not."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, QueueItem, SpamCopy
from listener.nlp.copies import evidence, normalise, signature
from listener.nlp.tagger import Tagger, TagInput
from listener.sources.ingest import ingest_mentions
from tests.factories import BASE_TIME, mention

PROMO = [
    "Best bike DEALS of the year, only today!! https://deals.example/a @fietsbaan",
    "best bike deals of the year only today https://deals.example/b",
    "@someone Best  bike deals of the year,   only today! www.deals.example/c",
]


def _post(n: int, author: str, text: str, hours: float = 0) -> dict[str, Any]:
    return mention(
        n,
        text=text,
        created_at=(BASE_TIME + timedelta(hours=hours, minutes=n)).isoformat(),
        author={"platform_id": author, "handle": f"@{author}@mastodon.example"},
    )


async def _store(
    sessions: async_sessionmaker[AsyncSession], posts: list[dict[str, Any]]
) -> list[int]:
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, posts, tag=False)
    return list(report.new_mention_ids)


async def _intents(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[list[str]]:
    async with sessions() as session:
        rows = dict((await session.execute(select(Mention.id, Mention.intents))).all())
    return [rows[i] for i in ids]


def test_copies_compare_without_case_links_handles_and_punctuation() -> None:
    assert len({normalise(t) for t in PROMO}) == 1
    assert len({signature(t) for t in PROMO}) == 1
    assert signature("App is down again, cannot unlock my bike at Centraal") is None  # no link
    assert signature("look https://x.example") is None  # too short to compare
    assert evidence("Use code BIKE50 for half price at the shop") == "a promotion"


async def test_the_same_promotion_from_three_authors_is_spam_with_the_reason(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await _store(sessions, [_post(1, "a1", PROMO[0]), _post(2, "a2", PROMO[1], hours=3)])
    assert await _intents(sessions, first) == [[], []]  # two authors are not enough

    third = await _store(sessions, [_post(3, "a3", PROMO[2], hours=20)])

    ids = first + third
    assert await _intents(sessions, ids) == [["spam"], ["spam"], ["spam"]]
    async with sessions() as session:
        reasons = (await session.execute(select(SpamCopy.reason))).scalars().all()
        explains = (
            await session.execute(
                select(QueueItem.priority_explain).where(QueueItem.mention_id.in_(first))
            )
        ).scalars()
        queue_reasons = [e["reason"] for e in explains if e]
    assert reasons == ["same text from 3 authors within 24 h, with a link"] * 3
    assert len(queue_reasons) == 2 and all("likely spam" in r for r in queue_reasons)


async def test_complaints_in_the_same_words_without_a_link_are_not_spam(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outage = "The app is down again, I cannot unlock my bike!"
    ids = await _store(sessions, [_post(n, f"u{n}", outage, hours=n / 10) for n in range(8)])
    assert await _intents(sessions, ids) == [[]] * 8


async def test_copies_days_apart_or_from_one_author_are_not_spam(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    apart = await _store(sessions, [_post(n, f"d{n}", PROMO[n], hours=30 * n) for n in range(3)])
    one_author = await _store(
        sessions,
        [_post(10 + n, "same", PROMO[n].replace("deals", "offers"), hours=n) for n in range(3)],
    )
    assert await _intents(sessions, apart + one_author) == [[]] * 6


def test_on_the_evaluation_set_copies_keep_precision(tagger: Tagger, data_dir: Path) -> None:
    """tests/data/spam_eval.csv with every text posted by three authors within a day (a
    campaign, or a headline many people share): a text is flagged by the copy signal exactly
    when it has a signature (the database test above shows three copies then become spam).
    Measured: the tagger alone 1.000 / 0.500; with copies 1.000 / 0.500 (a bare link counted
    as evidence instead: 0.806 / 0.604, the false positives all shared news links)."""
    with (data_dir / "spam_eval.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    tagged = tagger.tag_texts(
        TagInput(text=row["text"], id=index, language="en") for index, row in enumerate(rows)
    )
    predicted = [
        "spam" in result.intents or signature(row["text"]) is not None
        for row, result in zip(rows, tagged, strict=True)
    ]
    gold = [row["label"] == "spam" for row in rows]
    tp = sum(p and g for p, g in zip(predicted, gold, strict=True))
    fp = sum(p and not g for p, g in zip(predicted, gold, strict=True))
    assert tp / (tp + fp) >= 0.9
    assert tp / sum(gold) >= 0.5

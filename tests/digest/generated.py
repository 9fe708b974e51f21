"""A generated listening history (a few thousand mentions over five weeks and a bit), for
checking that faster ways of building the digest give the same document as the old ones.

Everything comes from a seeded random generator, so the same code gives the same rows on
both backends; ids are given explicitly so they are equal too.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.periods import Period
from listener.digest.query import MentionFilter
from listener.models import (
    AuditEntry,
    Author,
    Mention,
    MentionTopic,
    OwnAccount,
    QueueItem,
    Source,
    Topic,
)

TZ = "Europe/Amsterdam"
WEEK = Period.week("2026-W47", TZ)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SOURCES = [(1, "mastodon", "masto"), (2, "reddit", "reddit"), (3, "bluesky", "sky")]
TOPICS = ["app", "outage", "pricing", "docks", "ebike", "helpdesk"]
WORDS = [
    "fietsbaan",
    "app",
    "down",
    "again",
    "docks",
    "kapot",
    "centraal",
    "storing",
    "prijs",
    "plus",
    "new",
    "ebike",
    "great",
    "outage",
    "morning",
    "klantenservice",
    "snel",
    "waar",
    "fiets",
    "helmet",
    "battery",
    "charge",
    "route",
    "station",
    "empty",
    "refund",
    "login",
    "crash",
    "update",
    "slow",
    "weekend",
    "rain",
    "lane",
    "broken",
    "ticket",
    "thanks",
    "love",
    "why",
    "help",
    "please",
]
HASHTAGS = ["#storing", "#fietsbaan", "#ebike", "#docks", "#plus"]
STATUSES = ["new", "new", "new", "open", "answered", "resolved", "escalated", "snoozed", "spam"]
LABELS = ["positive", "neutral", "negative", None]
INTENTS: list[list[str]] = [[], [], ["question"], ["complaint"], ["question", "complaint"]]
# Filters the test builds the digest with, besides none.
FILTERS = [
    MentionFilter(),
    MentionFilter.of(topics=["outage", "docks"]),
    MentionFilter.of(sources=["masto", "bluesky"], languages=["nl", "en"]),
]


def _text(rng: random.Random, week: int) -> str:
    words = rng.choices(WORDS, k=rng.randint(4, 12))
    # Later weeks talk more about the e-bike and the docks, so terms emerge.
    if week >= 4 and rng.random() < 0.3:
        words += ["ebike", "battery", "recall"]
    if rng.random() < 0.3:
        words.append(rng.choice(HASHTAGS))
    return " ".join(words)


async def store_generated(session: AsyncSession, *, week_mentions: int = 2600) -> None:
    """Write the generated history; the caller commits."""
    rng = random.Random(16)
    await session.execute(
        insert(Source),
        [{"id": i, "kind": k, "name": n, "config": {}, "cursor": {}} for i, k, n in SOURCES],
    )
    await session.execute(
        insert(Topic), [{"id": i, "name": n, "keywords": {}} for i, n in enumerate(TOPICS, 1)]
    )
    await session.execute(insert(OwnAccount), [{"id": 1, "platform": "mastodon", "handle": "us"}])
    authors = [
        {
            "id": i,
            "platform": "mastodon",
            "platform_id": f"u{i}",
            "handle": f"@user{i}",
            "followers": None if i % 9 == 0 else rng.randint(0, 5000),
            "own_account_id": 1 if i == 1 else None,
        }
        for i in range(1, 121)
    ]
    await session.execute(insert(Author), authors)
    first = WEEK.shifted(-4).start
    mentions: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    # Four earlier weeks with fewer mentions each, the week itself, and a day after it.
    spans = [(WEEK.shifted(k - 4), 300 + 150 * k) for k in range(4)] + [(WEEK, week_mentions)]
    spans.append((WEEK.shifted(1), 40))
    for k, (period, count) in enumerate(spans):
        seconds = (period.end - period.start).total_seconds()
        for _ in range(count):
            mid = len(mentions) + 1
            created = period.start + timedelta(seconds=rng.uniform(0, seconds))
            label = rng.choice(LABELS)
            source_id, platform, _name = rng.choice(SOURCES)
            author = rng.choice([None, 1, *range(2, 121), *range(2, 30)])
            mentions.append(
                {
                    "id": mid,
                    "source_id": source_id,
                    "external_id": str(mid),
                    "platform": platform,
                    "author_id": author,
                    "url": f"https://social.example/{mid}",
                    "text": _text(rng, k),
                    "language": rng.choice(["nl", "en", "de", None]),
                    "created_at": created,
                    "likes": rng.choice([None, 0, 1, 2, 5, 13, 40]),
                    "reposts": rng.choice([None, 0, 1, 3]),
                    "replies": rng.choice([None, 0, 2]),
                    "fingerprint": f"g{mid}",
                    "sentiment_label": label,
                    "sentiment_score": None if label is None else round(rng.uniform(-1, 1), 3),
                    "intents": rng.choice(INTENTS),
                    "nlp_version": None if label is None and rng.random() < 0.7 else "gen-1",
                }
            )
            status = rng.choice(STATUSES)
            answered = status in ("answered", "resolved") and rng.random() < 0.8
            responded = created + timedelta(hours=rng.uniform(0.1, 40)) if answered else None
            due = created + timedelta(hours=8) if rng.random() < 0.7 else None
            outcome = None
            if due is not None and responded is not None:
                outcome = "met" if responded <= due else "missed"
            items.append(
                {
                    "mention_id": mid,
                    "status": status,
                    "first_response_at": responded,
                    "due_at": due,
                    "sla_outcome": outcome,
                }
            )
            for topic_id in rng.sample(range(1, len(TOPICS) + 1), rng.choice([0, 0, 1, 1, 2])):
                links.append({"mention_id": mid, "topic_id": topic_id})
            if status != "new" and rng.random() < 0.6:
                audits.append(
                    {
                        "mention_id": mid,
                        "entity": "mention",
                        "entity_id": str(mid),
                        "action": "status",
                        "actor": f"mod-{rng.randint(1, 7)}",
                        "before": {"status": "new"},
                        "after": {"status": status},
                        "created_at": created + timedelta(hours=rng.uniform(0, 30)),
                    }
                )
    assert mentions[0]["created_at"] >= first
    await session.execute(insert(Mention), mentions)
    await session.execute(insert(QueueItem), items)
    await session.execute(insert(MentionTopic), links)
    await session.execute(insert(AuditEntry), audits)

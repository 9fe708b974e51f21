"""A small listening history whose digest numbers are worked out by hand in the tests.

Times are Amsterdam local (CET, UTC+1, in November). ISO week 2026-W47 runs from Monday
16 Nov 00:00 local (15 Nov 23:00 UTC) to Monday 23 Nov 00:00 local (22 Nov 23:00 UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import (
    Alert,
    AuditEntry,
    Author,
    Mention,
    MentionTopic,
    QueueItem,
    Source,
    Topic,
)

AMS = ZoneInfo("Europe/Amsterdam")
TZ = "Europe/Amsterdam"


def local(*args: int) -> datetime:
    """An Amsterdam wall-clock time as an aware datetime."""
    return datetime(*args, tzinfo=AMS)


@dataclass
class History:
    """Ids of what was stored, by the names the tests use."""

    mentions: dict[int, int] = field(default_factory=dict)
    topics: dict[str, int] = field(default_factory=dict)
    authors: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


# n: (when, author, source, language, sentiment, topics, likes, intents, status, text)
MENTIONS: dict[int, tuple[Any, ...]] = {
    # 2026-W47
    1: (local(2026, 11, 16, 0, 30), "anna", "masto", "en", "positive", ["app"], 5, [], "new",
        "Love the new Fietsbaan app, smooth ride today"),
    2: (local(2026, 11, 16, 10, 0), "bram", "masto", "en", "negative", ["outage"], 50, ["question"],
        "open", "Why is Fietsbaan down again? #storing"),
    3: (local(2026, 11, 18, 8, 0), "bram", "masto", "nl", "negative", ["outage"], 20, ["complaint"],
        "new", "Alle docks kapot bij Centraal #storing"),
    4: (local(2026, 11, 18, 9, 0), "chris", "reddit", "nl", "negative", ["outage", "app"], 3,
        ["question"], "resolved", "Zijn de docks kapot? De app zegt niks"),
    5: (local(2026, 11, 18, 9, 30), "dana", "reddit", "nl", "neutral", ["outage"], 0, ["question"],
        "resolved", "Docks kapot in Overvecht, weet iemand meer?"),
    6: (local(2026, 11, 19, 12, 0), "anna", "masto", "en", "positive", ["pricing"], 2, ["question"],
        "answered", "Is the Plus subscription cheaper for students?"),
    7: (local(2026, 11, 20, 15, 0), "anna", "masto", "en", "positive", [], 1, [], "new",
        "Thanks Fietsbaan for the quick fix"),
    8: (local(2026, 11, 21, 20, 0), "chris", "reddit", "en", "neutral", ["app"], 0, [], "new",
        "The app asks for a new login"),
    9: (local(2026, 11, 22, 23, 30), "dana", "reddit", "nl", "negative", ["outage"], 4,
        ["question"], "new", "Weer docks kapot, wanneer is dit opgelost? #storing"),
    10: (local(2026, 11, 22, 12, 0), None, "masto", None, None, [], 0, [], "new",
         "Fietsbaan mentioned in passing"),
    # Monday 23 Nov 00:30 local is 22 Nov 23:30 UTC: week 48 here, week 47 in UTC.
    11: (local(2026, 11, 23, 0, 30), "anna", "masto", "en", "positive", [], 0, [], "new",
         "Good morning Fietsbaan"),
    # 2026-W46
    12: (local(2026, 11, 10, 10, 0), "anna", "masto", "en", "positive", ["app"], 0, [], "new",
         "The Fietsbaan app works great"),
    13: (local(2026, 11, 11, 10, 0), "bram", "masto", "en", "positive", ["pricing"], 7, [], "new",
         "Fietsbaan pricing is fair"),
    14: (local(2026, 11, 12, 10, 0), "dana", "reddit", "nl", "neutral", ["pricing"], 0,
         ["question"], "open", "Wat kost Fietsbaan Plus per maand?"),
    # Sunday 15 Nov 23:59 local is still week 46 (22:59 UTC).
    15: (local(2026, 11, 15, 23, 59), "anna", "masto", "en", "positive", ["app"], 0, [], "new",
         "Fietsbaan app update looks nice"),
    # 2026-W45, W44 and W43 (W43 ends at the DST change: Sunday 25 Oct has 25 hours).
    16: (local(2026, 11, 4, 10, 0), "anna", "masto", "en", "positive", ["app"], 0, [], "new",
         "Fietsbaan app is handy"),
    17: (local(2026, 11, 5, 10, 0), "chris", "reddit", "en", "neutral", [], 0, [], "new",
         "Fietsbaan bikes spotted"),
    18: (local(2026, 10, 28, 10, 0), "bram", "masto", "en", "positive", [], 0, [], "new",
         "Fietsbaan rocks"),
    19: (local(2026, 10, 25, 23, 30), "dana", "reddit", "nl", "neutral", [], 0, [], "new",
         "Fietsbaan gezien"),
}  # fmt: skip

AUTHORS = {"anna": 1000, "bram": 50000, "chris": None, "dana": 200}

# (mention, status it moved to, hours after the mention was created, actor)
STATUS_CHANGES = [
    (2, "open", 1.0, "mod-b"),
    (4, "answered", 2.0, "mod-a"),
    (4, "resolved", 20.0, "mod-a"),
    (5, "resolved", 10.0, "mod-b"),
    (6, "answered", 0.5, "mod-a"),
]


async def store_history(session: AsyncSession) -> History:
    """Write the history above; the caller commits."""
    history = History()
    for name, kind in (("masto", "mastodon"), ("reddit", "reddit")):
        source = Source(kind=kind, name=name, config={}, cursor={})
        session.add(source)
        await session.flush()
        history.sources[name] = source.id
    for name, keywords in (
        ("app", {"en": ["app"]}),
        ("outage", {"en": ["outage", "down"], "nl": ["storing"]}),
        ("pricing", {"en": ["price", "pricing"], "nl": ["prijs"]}),
    ):
        topic = Topic(name=name, keywords=keywords)
        session.add(topic)
        await session.flush()
        history.topics[name] = topic.id
    for name, followers in AUTHORS.items():
        platform = "mastodon" if name in ("anna", "bram") else "reddit"
        author = Author(platform=platform, platform_id=name, handle=f"@{name}", followers=followers)
        session.add(author)
        await session.flush()
        history.authors[name] = author.id
    for n, row in MENTIONS.items():
        when, author, source, language, label, topics, likes, intents, status, text = row
        mention = Mention(
            source_id=history.sources[source],
            external_id=str(n),
            platform="mastodon" if source == "masto" else "reddit",
            author_id=history.authors[author] if author else None,
            text=text,
            language=language,
            created_at=when.astimezone(UTC),
            likes=likes,
            sentiment_label=label,
            intents=intents,
            nlp_version="test-1" if label else None,
            fingerprint=str(n),
        )
        session.add(mention)
        await session.flush()
        history.mentions[n] = mention.id
        # The queue stamps the first answer (moderation.queue.sla); the digest reads it there.
        answered = [h for m, st, h, _ in STATUS_CHANGES if m == n and st == "answered"]
        session.add(
            QueueItem(
                mention_id=mention.id,
                status=status,
                first_response_at=(
                    when.astimezone(UTC) + timedelta(hours=min(answered)) if answered else None
                ),
            )
        )
        for topic in topics:
            session.add(MentionTopic(mention_id=mention.id, topic_id=history.topics[topic]))
    for n, status, hours, actor in STATUS_CHANGES:
        created = MENTIONS[n][0].astimezone(UTC)
        session.add(
            AuditEntry(
                mention_id=history.mentions[n],
                entity="mention",
                entity_id=str(history.mentions[n]),
                action="status",
                actor=actor,
                before={"status": "new"},
                after={"status": status},
                created_at=created + timedelta(hours=hours),
            )
        )
    session.add(
        Alert(
            metric="volume",
            dimension="topic",
            dimension_key="outage",
            window_start=datetime(2026, 11, 18, 7, tzinfo=UTC),
            window_end=datetime(2026, 11, 18, 8, tzinfo=UTC),
            observed=3,
            baseline=0.1,
            z_score=4.2,
            count=3,
            drivers={},
        )
    )
    await session.flush()
    return history

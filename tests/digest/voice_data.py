"""A small history for the digest's share-of-voice section, counted by hand in the tests.

Times are Amsterdam local (CET, UTC+1). The digest covers 2026-W47 (Monday 16 Nov 00:00 to
Monday 23 Nov 00:00 local) and compares it with 2026-W46.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Author, Mention, Source, VoiceSubject
from tests.digest.data import local

SUBJECTS = [
    ("Fietsbaan", "fietsbaan*", "brand"),
    ("Velomax", "velomax", "competitor"),
    ("Groene Fiets", '"groene fiets"', "competitor"),
]
FOLLOWERS = {"anna": 1000, "bram": 200, "chris": None}

# n: (local time, author, sentiment, text, deleted at its source)
MENTIONS: dict[int, tuple[Any, ...]] = {
    # 2026-W47. Monday 00:30 local is Sunday 23:30 UTC: this week here, not in UTC.
    1: (local(2026, 11, 16, 0, 30), "anna", "positive", "Fietsbaan app werkt prima", False),
    2: (local(2026, 11, 17, 9, 0), "bram", "negative", "Fietsbaan storing weer", False),
    3: (local(2026, 11, 18, 9, 0), "chris", "negative", "Velomax is te duur", False),
    4: (local(2026, 11, 19, 9, 0), "anna", "neutral", "Fietsbaan beter dan Velomax?", False),
    5: (local(2026, 11, 20, 9, 0), "bram", "positive", "De Groene Fiets komt naar Utrecht", False),
    6: (local(2026, 11, 21, 9, 0), "chris", None, "Velomax app crasht", False),
    7: (local(2026, 11, 22, 9, 0), "chris", "positive", "fietsbaan is top", False),
    # Left out: deleted at its source; naming no subject; next week (Monday 00:30 local).
    8: (local(2026, 11, 21, 10, 0), "anna", "negative", "Velomax weg", True),
    9: (local(2026, 11, 18, 10, 0), "anna", "neutral", "Niets over fietsen", False),
    10: (local(2026, 11, 23, 0, 30), "anna", "positive", "Fietsbaan in de ochtend", False),
    # 2026-W46. Sunday 23:59 local is still this week (22:59 UTC).
    11: (local(2026, 11, 10, 9, 0), "anna", "positive", "Fietsbaan werkt", False),
    12: (local(2026, 11, 11, 9, 0), "bram", "neutral", "Velomax nieuw in Utrecht", False),
    13: (local(2026, 11, 12, 9, 0), "chris", "negative", "Velomax prijzen omhoog", False),
    14: (local(2026, 11, 15, 23, 59), "bram", "positive", "Fietsbaan zondagavond", False),
}  # fmt: skip


async def store_voice_history(session: AsyncSession, *, subjects: bool = True) -> None:
    """Write the mentions above (and, unless told not to, the three subjects)."""
    source = Source(kind="mastodon", name="masto", config={}, cursor={})
    session.add(source)
    authors = {}
    for name, followers in FOLLOWERS.items():
        authors[name] = Author(
            platform="mastodon", platform_id=name, handle=f"@{name}", followers=followers
        )
        session.add(authors[name])
    await session.flush()
    for n, (when, author, label, text, deleted) in MENTIONS.items():
        created = when.astimezone(UTC)
        session.add(
            Mention(
                source_id=source.id,
                external_id=str(n),
                platform="mastodon",
                author_id=authors[author].id,
                text=text,
                language="nl",
                created_at=created,
                sentiment_label=label,
                nlp_version="test-1" if label else None,
                fingerprint=str(n),
                deleted_at_source=datetime(2026, 11, 22, tzinfo=UTC) if deleted else None,
            )
        )
    if subjects:
        for name, query, kind in SUBJECTS:
            session.add(VoiceSubject(name=name, query=query, kind=kind))
    await session.flush()

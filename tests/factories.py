"""Builders for test data shaped like what connectors produce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def mention(n: int, **overrides: Any) -> dict[str, Any]:
    """A valid MentionIn payload, the n-th of a series (later n = newer)."""
    item: dict[str, Any] = {
        "platform": "mastodon",
        "source": "mastodon-test",
        "external_id": f"https://mastodon.example/users/u{n % 7}/statuses/{1000 + n}",
        "url": f"https://mastodon.example/@u{n % 7}/{1000 + n}",
        "text": f"Post number {n} about Fietsbaan",
        "html": f"<p>Post number {n} about <a href='https://fietsbaan.example'>Fietsbaan</a></p>",
        "language": "en",
        "created_at": (BASE_TIME + timedelta(minutes=n)).isoformat(),
        "author": {
            "platform_id": f"u{n % 7}",
            "handle": f"@u{n % 7}@mastodon.example",
            "display_name": f"User {n % 7}",
            "profile_url": f"https://mastodon.example/@u{n % 7}",
            "followers": 100 + n % 7,
        },
        "engagement": {"likes": n % 5, "reposts": 0, "replies": 0},
    }
    item.update(overrides)
    return item

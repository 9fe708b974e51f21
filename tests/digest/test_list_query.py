"""Recipient lists and digest builds with a query (docs/QUERY.md), on both backends.

The history (tests/digest/data.py) holds ten mentions in 2026-W47. Their folded words hold
"storing" in three: 2 (en, negative), 3 (nl, negative) and 9 (nl, negative); none says
"outage" (that is a topic's name, not a word of any text). Topic outage covers 2, 3, 4, 5
and 9, of which "docks" without "storing" leaves 4 and 5.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import service
from listener.digest.errors import Invalid
from listener.digest.periods import Period
from listener.digest.query import MentionFilter
from listener.models import Role
from listener.settings import Settings
from tests.conftest import MakeStaff, Staff
from tests.digest.data import TZ, History

PROBLEM = "application/problem+json"
W47 = Period.week("2026-W47", TZ)


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    """An admin."""
    return await make_staff(Role.ADMIN, username="root")


def _languages(data: dict[str, Any]) -> dict[str, int]:
    return {s["language"]: s["count"] for s in data["volume"]["by_language"]}


async def test_a_list_with_a_query_gets_a_digest_of_only_the_matching_mentions(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, history: History
) -> None:
    async with sessions() as session, session.begin():
        storing = await service.create_list(
            session,
            values={
                "name": "storing",
                "emails": ["a@fietsbaan.example"],
                "query": " storing  OR outage ",
            },
            actor="test",
        )
        docks = await service.create_list(
            session,
            values={
                "name": "docks",
                "emails": ["b@fietsbaan.example"],
                "topics": ["outage"],
                "query": "docks -storing",
            },
            actor="test",
        )
        everything = await service.create_list(
            session, values={"name": "all", "emails": ["c@fietsbaan.example"]}, actor="test"
        )
        built = {
            rl.name: await service.store_digest(
                session, period=W47, settings=settings, recipient_list=rl
            )
            for rl in (storing, docks, everything)
        }
    assert storing.query == "storing OR outage"  # whitespace tidied as stored
    assert everything.query is None

    matching = built["storing"]
    assert matching.mention_count == 3
    assert matching.filters["query"] == "storing OR outage"
    assert _languages(matching.data) == {"en": 1, "nl": 2}
    assert matching.data["sentiment"]["counts"] == {"positive": 0, "neutral": 0, "negative": 3}
    # The topic and the query both apply: outage mentions saying docks but not storing.
    assert built["docks"].mention_count == 2
    assert _languages(built["docks"].data) == {"nl": 2}
    # A list without a query still hears everything, and its stored filter names no query.
    assert built["all"].mention_count == 10
    assert "query" not in built["all"].filters

    # Rebuilding from what was stored (late mentions, the scheduler) keeps the query.
    assert service.stored_filter(matching) == MentionFilter.of(query="storing OR outage")


async def test_equal_queries_make_equal_filters_and_unreadable_ones_are_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert MentionFilter.of(query="storing   OR\toutage") == MentionFilter.of(
        query="storing OR outage"
    )
    async with sessions() as session:
        with pytest.raises(Invalid) as refused:
            await service.create_list(
                session,
                values={"name": "bad", "emails": ["a@fietsbaan.example"], "query": "storing AND ("},
                actor="test",
            )
    assert refused.value.detail.startswith("query: column 14: expected")


async def test_the_api_stores_shows_clears_and_validates_a_lists_query(
    client: httpx.AsyncClient, admin: Staff, history: History
) -> None:
    created = await client.post(
        "/api/v1/recipient-lists",
        json={"name": "storing", "emails": ["a@fietsbaan.example"], "query": "storing OR outage"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["query"] == "storing OR outage"
    list_id = created.json()["id"]

    bad = await client.post(
        "/api/v1/recipient-lists",
        json={"name": "bad", "emails": ["a@fietsbaan.example"], "query": "storing AND ("},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith(PROBLEM)
    assert "query: column 14: expected" in bad.text

    bad_patch = await client.patch(
        f"/api/v1/recipient-lists/{list_id}", json={"query": "lang:"}, headers=admin.headers
    )
    assert bad_patch.status_code == 422
    assert bad_patch.headers["content-type"].startswith(PROBLEM)
    assert "query: column 6: expected a value after lang:" in bad_patch.text

    digest = await client.post(
        "/api/v1/digests",
        json={"week": "2026-W47", "timezone": TZ, "recipient_list_id": list_id},
        headers=admin.headers,
    )
    assert digest.status_code == 201, digest.text
    assert digest.json()["mention_count"] == 3

    cleared = await client.patch(
        f"/api/v1/recipient-lists/{list_id}", json={"query": None}, headers=admin.headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["query"] is None
    rebuilt = await client.post(
        "/api/v1/digests",
        json={"week": "2026-W47", "timezone": TZ, "recipient_list_id": list_id},
        headers=admin.headers,
    )
    assert rebuilt.json()["mention_count"] == 10


async def test_an_adhoc_build_and_preview_take_a_query(
    client: httpx.AsyncClient, admin: Staff, history: History
) -> None:
    built = await client.post(
        "/api/v1/digests",
        json={"week": "2026-W47", "timezone": TZ, "query": "storing lang:nl"},
        headers=admin.headers,
    )
    assert built.status_code == 201, built.text
    assert built.json()["mention_count"] == 2  # mentions 3 and 9

    preview = await client.get(
        "/api/v1/digests/preview",
        params={"week": "2026-W47", "timezone": TZ, "query": "storing OR outage"},
        headers=admin.headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["volume"]["total"] == 3

    refused = await client.get(
        "/api/v1/digests/preview",
        params={"week": "2026-W47", "timezone": TZ, "query": "storing AND ("},
        headers=admin.headers,
    )
    assert refused.status_code == 422
    assert "query: column 14: expected" in refused.text

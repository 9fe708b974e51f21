"""A webhook subscription whose filter holds a query: only matching mentions' events go out."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from listener.webhooks.delivery import deliver_due
from tests.conftest import Staff
from tests.factories import mention
from tests.listener.test_webhooks import (  # noqa: F401 - fixtures used by name
    Receiver,
    _subscribe,
    admin,
    http,
    no_settle_margin,
    receiver,
)


async def test_only_events_of_mentions_the_query_matches_are_delivered(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,  # noqa: F811
    admin: Staff,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    refused = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["mention.*"], "filter": {"query": "storing AND ("}},
        headers=admin.headers,
    )
    assert refused.status_code == 422
    assert "query: column 14: expected" in refused.json()["detail"]
    created = await _subscribe(client, admin, receiver, filter={"query": "storing* -lang:en"})
    assert created["filter"] == {"query": "storing* -lang:en"}

    async with sessions() as session, session.begin():
        report = await ingest_mentions(
            session,
            [
                mention(1, text="Storingen bij de app", language="nl"),
                mention(2, text="Storing in English? No", language="en"),
                mention(3, text="Alles werkt", language="nl"),
            ],
        )
    wanted = report.new_mention_ids[0]
    await deliver_due(sessions, settings=settings, client=http)
    assert receiver.received, "the matching mention's event was delivered"
    assert {r["data"]["mention"]["id"] for r in receiver.received} == {wanted}

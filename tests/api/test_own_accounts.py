"""Own accounts (issue 12): managed by admins over the API and the CLI; their posts leave the
queue, their replies answer mentions (at the reply's time), look-alikes are impersonation."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.models import Mention, QueueItem, Role
from listener.sources.ingest import ingest_mentions
from moderation.outbox.reply_templates import mention_values
from tests.conftest import TEST_SECRET, MakeStaff
from tests.factories import mention
from tests.listener.conftest import luister

BRAND = {"platform_id": "brand", "handle": "@brand@mastodon.example", "display_name": "Brand"}


async def test_admins_manage_own_accounts_and_our_posts_leave_the_queue(
    client: httpx.AsyncClient, make_staff: MakeStaff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await make_staff(Role.ADMIN)
    moderator = await make_staff(Role.MODERATOR)
    asked = mention(1, text="Is the app down? Nothing loads")
    ours = mention(
        2,
        text="@u1 Sorry, we are on it: back within the hour",
        author=BRAND,
        external_id="https://mastodon.example/users/brand/statuses/2002",
        reply_to_external_id=asked["external_id"],
        created_at=(
            datetime.fromisoformat(asked["created_at"]) + timedelta(minutes=25)
        ).isoformat(),
    )
    scam = mention(
        3,
        text="Brand airdrop! Connect your wallet and claim now https://brand-airdrop.example",
        author={
            "platform_id": "fake",
            "handle": "@brand_rewards@mastodon.example",
            "display_name": "Brand Rewards",
        },
    )
    refused = await client.post(
        "/api/v1/own-accounts", json={"platform": "mastodon"}, headers=moderator.headers
    )
    assert refused.status_code == 403
    created = await client.post(
        "/api/v1/own-accounts",
        json={"platform": "mastodon", "handle": "@brand@mastodon.example", "label": "Brand"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    again = await client.post(
        "/api/v1/own-accounts",
        json={"platform": "mastodon", "handle": "@brand@mastodon.example"},
        headers=admin.headers,
    )
    assert again.status_code == 409
    empty = await client.post(
        "/api/v1/own-accounts", json={"platform": "mastodon"}, headers=admin.headers
    )
    assert empty.status_code == 422
    listed = await client.get("/api/v1/own-accounts", headers=admin.headers)
    assert [a["handle"] for a in listed.json()["items"]] == ["@brand@mastodon.example"]

    # Our reply arrives before the mention it answers (a backfill): linked either way.
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [ours])
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [asked, scam])
    async with sessions() as session:
        rows = {
            m.external_id: (m, item)
            for m, item in await session.execute(
                select(Mention, QueueItem).outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
            )
        }
    reply, no_item = rows[ours["external_id"]]
    question, item = rows[asked["external_id"]]
    assert no_item is None
    assert item is not None and item.status == "answered"
    assert item.first_response_at == reply.created_at
    assert item.first_response_at - question.created_at == timedelta(minutes=25)
    flagged = rows[scam["external_id"]][1]
    assert flagged is not None and flagged.priority_explain
    assert "imitates" in flagged.priority_explain["impersonation"]["reason"]

    listing = await client.get("/api/v1/mentions?limit=50", headers=moderator.headers)
    assert ours["external_id"] not in json.dumps(listing.json())

    removed = await client.delete(
        f"/api/v1/own-accounts/{created.json()['id']}", headers=admin.headers
    )
    assert removed.status_code == 200 and removed.json()["requeued"] == 1
    gone = await client.delete(
        f"/api/v1/own-accounts/{created.json()['id']}", headers=admin.headers
    )
    assert gone.status_code == 404


async def test_author_name_falls_back_to_the_handle_without_its_instance(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    kees = {"platform_id": "kees", "handle": "@kees@mastodon.example", "display_name": None}
    async with sessions() as session, session.begin():
        (mid,) = (await ingest_mentions(session, [mention(1, author=kees)])).new_mention_ids
        values = await mention_values(session, mention_id=mid)
    assert values["author_name"] == "kees"


@pytest.mark.slow
@pytest.mark.backend("sqlite")
def test_the_cli_adds_lists_and_removes_own_accounts(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env = clean | {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_DATA_DIR": str(tmp_path / "data"),
        "LUISTER_SECRET_KEY": TEST_SECRET,
    }
    added = luister(
        "accounts", "own", "add", "bluesky", "--handle", "brand.bsky.social", "--json", env=env
    )
    assert added.returncode == 0, added.stderr
    account = json.loads(added.stdout)
    listed = luister("accounts", "own", "list", "--json", env=env)
    assert [a["handle"] for a in json.loads(listed.stdout)] == ["brand.bsky.social"]
    bad = luister("accounts", "own", "add", "bluesky", env=env)
    assert bad.returncode == 2
    removed = luister("accounts", "own", "remove", str(account["id"]), env=env)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(luister("accounts", "own", "list", "--json", env=env).stdout) == []

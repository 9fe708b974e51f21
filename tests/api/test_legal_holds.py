"""Legal holds: a held mention that disappears at its source keeps a hashed evidence copy that
only admins read, each read logged with who, when and why; lifting the hold purges the copy and
never brings the words back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.wiring import JOBS
from listener.kit.http import make_client
from listener.models import AuditEntry, EvidenceAccess, Mention, Role
from listener.settings import Settings
from listener.sources import service
from tests.conftest import MakeStaff, Staff
from tests.connectors.servers import LoopbackServer
from tests.listener.fake_mastodon import FakeMastodon

JOB = "recheck_sources_job"
TEXT = "Ik weet waar de beheerder van de fietsbaan woont"


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with LoopbackServer("127.0.0.1") as server:
        yield FakeMastodon(server)


@pytest.fixture
async def runner(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[EmbeddedRunner]:
    async with make_client(settings) as guarded:
        runner = EmbeddedRunner(sessions, settings, JOBS)
        runner.client = guarded
        yield runner


async def polled(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    runner: EmbeddedRunner,
    mastodon: FakeMastodon,
) -> tuple[dict[str, Any], int]:
    """A status polled into the queue: the status and its mention id."""
    status = mastodon.post(TEXT)
    async with sessions() as session, session.begin():
        await service.create_source(
            session,
            kind="mastodon",
            name="mastodon-fietsbaan",
            config={"instance_url": mastodon.server.base_url, "hashtag": "fietsbaan"},
            key=settings.secret_bytes(),
        )
    assert await runner.run_now("sweep_due_sources") == 1
    async with sessions() as session:
        mention_id = await session.scalar(
            select(Mention.id).where(Mention.external_id == status["uri"])
        )
    assert mention_id is not None
    return status, mention_id


async def read(client: httpx.AsyncClient, staff: Staff, mention_id: int, **params: str) -> Any:
    return await client.get(
        f"/api/v1/mentions/{mention_id}/evidence", params=params, headers=staff.headers
    )


async def test_a_held_mention_keeps_hashed_evidence_that_logs_every_read(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    runner: EmbeddedRunner,
    mastodon: FakeMastodon,
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    status, mention_id = await polled(sessions, settings, runner, mastodon)
    admin = await make_staff(Role.ADMIN, username="carla")
    moderator = await make_staff(Role.MODERATOR)
    url = f"/api/v1/mentions/{mention_id}/legal-hold"

    refused = await client.post(url, json={"reason": "threat"}, headers=moderator.headers)
    assert refused.status_code == 403
    placed = await client.post(
        url, json={"reason": "Threat, police case 12"}, headers=admin.headers
    )
    assert placed.status_code == 201, placed.text
    assert placed.json()["reason"] == "Threat, police case 12"
    again = await client.post(url, json={"reason": "twice"}, headers=admin.headers)
    assert (again.status_code, again.json()["id"]) == (200, placed.json()["id"])
    assert (await read(client, admin, mention_id, reason="curious")).status_code == 404

    mastodon.delete(status)
    counts = await runner.run_now(JOB)
    assert (counts["gone"], counts["kept_as_evidence"]) == (1, 1)

    # The mention itself is hidden and wordless like any other deleted one...
    async with sessions() as session:
        mention = await session.get(Mention, mention_id)
        assert mention is not None and (mention.text, mention.html, mention.raw) == ("", None, None)
    listed = await client.get("/api/v1/mentions", headers=admin.headers)
    assert listed.json()["items"] == []
    # ...and its last known content is kept, hashed, for admins who say why they read it.
    assert (await read(client, moderator, mention_id, reason="curious")).status_code == 403
    assert (await read(client, admin, mention_id)).status_code == 422  # no reason, no read
    answer = await read(client, admin, mention_id, reason="Request from the police, case 12")
    assert answer.status_code == 200, answer.text
    [copy] = answer.json()["items"]
    assert hashlib.sha256(copy["payload"].encode()).hexdigest() == copy["sha256"]
    assert copy["intact"] is True
    content = json.loads(copy["payload"])
    assert content == copy["content"]
    assert content["text"] == TEXT
    assert content["external_id"] == status["uri"]
    assert content["raw"]["id"] == status["id"]
    assert content["author"]["handle"].startswith("@anna@")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical == copy["payload"]
    await read(client, admin, mention_id, reason="Court hearing preparation")

    log = await client.get(
        f"/api/v1/mentions/{mention_id}/evidence/access-log", headers=admin.headers
    )
    assert [(row["user_id"], row["reason"]) for row in log.json()] == [
        (admin.id, "Court hearing preparation"),
        (admin.id, "Request from the police, case 12"),
    ]
    assert all(row["actor"].startswith("carla") for row in log.json())
    state = await client.get(url, headers=admin.headers)
    assert state.json()["held"] is True and state.json()["deleted_at_source"] is not None
    assert [e["sha256"] for e in state.json()["evidence"]] == [copy["sha256"]]
    async with sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.mention_id == mention_id)
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [
        "legal_hold_placed",
        "deleted_at_source",
        "evidence_read",
        "evidence_read",
    ]


async def test_lifting_the_hold_purges_the_evidence_and_resurrects_nothing(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    runner: EmbeddedRunner,
    mastodon: FakeMastodon,
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    status, mention_id = await polled(sessions, settings, runner, mastodon)
    admin = await make_staff(Role.ADMIN)
    url = f"/api/v1/mentions/{mention_id}/legal-hold"
    assert (await client.delete(url, headers=admin.headers)).status_code == 404  # not held
    await client.post(url, json={"reason": "Pending complaint"}, headers=admin.headers)
    mastodon.delete(status)
    await runner.run_now(JOB)
    first = await read(client, admin, mention_id, reason="Prepare the complaint file")
    sha = first.json()["items"][0]["sha256"]

    lifted = await client.delete(url, params={"reason": "Complaint settled"}, headers=admin.headers)

    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["evidence_purged"] == 1
    assert lifted.json()["lifted"][0]["lift_reason"] == "Complaint settled"
    assert (await read(client, admin, mention_id, reason="one more look")).status_code == 410
    async with sessions() as session:
        mention = await session.get(Mention, mention_id)
        assert mention is not None and mention.text == "" and mention.deleted_at_source
        reads = (await session.scalars(select(EvidenceAccess))).all()
    assert [r.reason for r in reads] == ["Prepare the complaint file"]  # the log outlives it
    state = (await client.get(url, headers=admin.headers)).json()
    assert state["held"] is False
    assert [(e["sha256"], e["purged_at"] is not None) for e in state["evidence"]] == [(sha, True)]
    listed = await client.get("/api/v1/mentions", headers=admin.headers)
    assert listed.json()["items"] == []
    # Holding it again brings nothing back either.
    await client.post(url, json={"reason": "Reopened"}, headers=admin.headers)
    assert (await read(client, admin, mention_id, reason="reopened")).status_code == 410


async def test_a_hold_on_a_live_mention_changes_nothing_until_it_disappears(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    runner: EmbeddedRunner,
    mastodon: FakeMastodon,
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    _, mention_id = await polled(sessions, settings, runner, mastodon)
    admin = await make_staff(Role.ADMIN)
    await client.post(
        f"/api/v1/mentions/{mention_id}/legal-hold", json={"reason": "Watch"}, headers=admin.headers
    )

    counts = await runner.run_now(JOB)

    assert (counts["asked"], counts["gone"], counts["kept_as_evidence"]) == (1, 0, 0)
    listed = await client.get("/api/v1/mentions", headers=admin.headers)
    assert [m["text"] for m in listed.json()["items"]] == [TEXT]
    missing = await client.post(
        "/api/v1/mentions/999999/legal-hold", json={"reason": "none"}, headers=admin.headers
    )
    assert missing.status_code == 404

"""Deletions at the source: a status the platform deleted is hidden and its words dropped within
one re-check cycle, on both databases, through the job the deployments run.

The platform is a fake Mastodon on 127.0.0.1: it serves a tag timeline to poll and answers
`GET /api/v1/statuses/:id` with the status, or 404 once the status is deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.embedded import EmbeddedRunner
from api.wiring import JOBS
from listener.kit.http import make_client
from listener.models import AuditEntry, Mention, QueueItem, Role, Source, utcnow
from listener.settings import Settings
from listener.sources import service
from listener.sources.recheck import recheck_sources
from tests.conftest import MakeStaff
from tests.connectors.servers import LoopbackServer, Reply
from tests.listener.fake_mastodon import FakeMastodon

JOB = "recheck_sources_job"


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with LoopbackServer("127.0.0.1") as server:
        yield FakeMastodon(server)


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as client:
        yield client


@pytest.fixture
def runner(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, guarded: httpx.AsyncClient
) -> EmbeddedRunner:
    runner = EmbeddedRunner(sessions, settings, JOBS)
    runner.client = guarded
    return runner


async def add_source(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, mastodon: FakeMastodon
) -> int:
    async with sessions() as session, session.begin():
        source = await service.create_source(
            session,
            kind="mastodon",
            name="mastodon-fietsbaan",
            config={"instance_url": mastodon.server.base_url, "hashtag": "fietsbaan"},
            key=settings.secret_bytes(),
        )
        return source.id


async def mention_of(sessions: async_sessionmaker[AsyncSession], status: dict[str, Any]) -> Mention:
    async with sessions() as session:
        found = await session.scalar(select(Mention).where(Mention.external_id == status["uri"]))
        assert found is not None
        return found


async def test_a_status_deleted_at_the_source_is_hidden_and_its_words_dropped_in_one_cycle(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    runner: EmbeddedRunner,
    mastodon: FakeMastodon,
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    staying = mastodon.post("De fietsbaan bij het station is weer open")
    leaving = mastodon.post("Fietsenstalling vol, zadeldieven actief #fietsbaan")
    await add_source(sessions, settings, mastodon)
    assert await runner.run_now("sweep_due_sources") == 1  # the poll stores both
    staff = await make_staff(Role.MODERATOR)
    listed = await client.get("/api/v1/mentions", headers=staff.headers)
    assert len(listed.json()["items"]) == 2
    found = await client.get("/api/v1/search", params={"q": "zadeldieven"}, headers=staff.headers)
    assert len(found.json()["items"]) == 1

    mastodon.delete(leaving)
    counts = await runner.run_now(JOB)

    assert counts == {"sources": 1, "asked": 2, "gone": 1, "kept_as_evidence": 0, "errors": 0}
    gone = await mention_of(sessions, leaving)
    assert gone.deleted_at_source is not None
    assert (gone.text, gone.html, gone.raw) == ("", None, None)
    kept = await mention_of(sessions, staying)
    assert kept.deleted_at_source is None and "station" in kept.text
    assert kept.source_checked_at is not None
    listed = await client.get("/api/v1/mentions", headers=staff.headers)
    assert [m["id"] for m in listed.json()["items"]] == [kept.id]
    for q in ("zadeldieven", "fietsenstalling OR station"):
        found = await client.get("/api/v1/search", params={"q": q}, headers=staff.headers)
        assert gone.id not in [m["id"] for m in found.json()["items"]]
    async with sessions() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.mention_id == gone.id))
        ).all()
    assert [(e.action, e.actor, e.after) for e in entries] == [
        ("deleted_at_source", "system", {"held": False})
    ]

    # Asked again within the interval: nothing; later, only the live one is asked about.
    assert (await runner.run_now(JOB))["asked"] == 0
    async with sessions() as session, session.begin():
        await session.execute(update(Mention).values(source_checked_at=None))
    again = await runner.run_now(JOB)
    assert (again["asked"], again["gone"]) == (1, 0)
    assert mastodon.server.hits(f"/api/v1/statuses/{leaving['id']}") == 1


async def test_which_mentions_a_cycle_asks_about(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    runner: EmbeddedRunner,
    mastodon: FakeMastodon,
) -> None:
    statuses = [mastodon.post(f"Bericht nummer {i} over de fietsbaan") for i in range(4)]
    await add_source(sessions, settings, mastodon)
    await runner.run_now("sweep_due_sources")
    old_closed = await mention_of(sessions, statuses[0])
    old_open = await mention_of(sessions, statuses[1])
    async with sessions() as session, session.begin():
        long_ago = utcnow() - timedelta(days=settings.recheck_window_days + 3)
        await session.execute(
            update(Mention)
            .where(Mention.id.in_([old_closed.id, old_open.id]))
            .values(created_at=long_ago)
        )
        await session.execute(
            update(QueueItem).where(QueueItem.mention_id == old_closed.id).values(status="resolved")
        )
    settings.recheck_per_source = 2

    first = await runner.run_now(JOB)
    second = await runner.run_now(JOB)
    third = await runner.run_now(JOB)

    # Old and resolved is never asked about; old but open is; two per cycle at most.
    assert [first["asked"], second["asked"], third["asked"]] == [2, 1, 0]
    asked = {r.path.rsplit("/", 1)[-1] for r in mastodon.server.requests if "statuses" in r.path}
    assert asked == {s["id"] for s in statuses[1:]}

    settings.recheck_enabled = False
    async with sessions() as session, session.begin():
        await session.execute(update(Mention).values(source_checked_at=None))
    assert (await runner.run_now(JOB))["asked"] == 0


async def test_a_platform_outage_decides_nothing_and_paused_sources_are_skipped(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    guarded: httpx.AsyncClient,
    mastodon: FakeMastodon,
) -> None:
    status = mastodon.post("Lampen op de fietsbaan doen het niet")
    source_id = await add_source(sessions, settings, mastodon)
    runner = EmbeddedRunner(sessions, settings, JOBS)
    runner.client = guarded
    await runner.run_now("sweep_due_sources")
    mastodon.server.route("/api/v1/statuses/{id}", Reply.json({"error": "Forbidden"}, 403))

    report = await recheck_sources(sessions, settings=settings, client=guarded)

    assert (report.asked, report.gone) == (1, 0)
    assert "403" in report.errors[source_id]
    mention = await mention_of(sessions, status)
    assert mention.deleted_at_source is None and mention.text

    async with sessions() as session, session.begin():
        await session.execute(update(Mention).values(source_checked_at=None))
        await session.execute(update(Source).values(paused_reason="broken credentials"))
    report = await recheck_sources(sessions, settings=settings, client=guarded)
    assert report.asked == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count(AuditEntry.id))) == 0

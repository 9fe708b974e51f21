"""Signed webhooks from the event log, checked by a real receiver on loopback.

The receiver verifies every delivery with `standardwebhooks`, the specification's reference
library. Time is a fake clock handed to the delivery run, so a day of retries takes a second.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from listener import events
from listener.kit.http import make_client
from listener.models import IntegrationEvent, Role, Status, User, WebhookSubscription, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from listener.webhooks.delivery import deliver_due, deliver_subscription, lease_seconds
from moderation.queue import workflow
from tests.conftest import MakeStaff, Staff
from tests.connectors.servers import LoopbackServer, Reply, Request, free_port
from tests.factories import mention
from tests.moderation.staff import staff_user


@dataclass
class Receiver:
    """A loopback endpoint that verifies each delivery with the reference library."""

    server: LoopbackServer
    secrets: list[str] = field(default_factory=list)
    down: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url("/hook")

    def handle(self, request: Request) -> Reply:
        if self.down:
            return Reply.json({"error": "maintenance"}, status=503)
        verified = []
        for secret in self.secrets:
            try:
                Webhook(secret).verify(request.body, request.headers)
                verified.append(secret)
            except WebhookVerificationError:
                pass
        if not verified:
            self.refused.append(request.headers.get("webhook-id", "?"))
            return Reply.json({"error": "bad signature"}, status=400)
        body = json.loads(request.body)
        self.received.append(
            {"webhook_id": request.headers["webhook-id"], "verified": verified, **body}
        )
        return Reply(status=204)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with LoopbackServer() as server:
        recv = Receiver(server)
        server.route("/hook", recv.handle, method="POST")
        yield recv


@pytest.fixture(autouse=True)
def no_settle_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    # Events are read once every transaction that may still add an earlier one has ended; the
    # half-second margin for clock reads would only slow the tests down.
    monkeypatch.setattr(events, "SETTLE_SECONDS", 0.0)


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as client:
        yield client


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ADMIN)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def _subscribe(
    client: httpx.AsyncClient, admin: Staff, receiver: Receiver, **body: Any
) -> dict[str, Any]:
    answer = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["mention.*"], **body},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    receiver.secrets.append(created["secret"])
    return created


async def _ingest(sessions: async_sessionmaker[AsyncSession], *ns: int) -> list[int]:
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [mention(n) for n in ns])
    return list(report.new_mention_ids)


async def _resolve(
    sessions: async_sessionmaker[AsyncSession], mention_id: int, actor: User, status: Status
) -> None:
    async with sessions() as session, session.begin():
        item = await workflow.get_queue_item(session, mention_id=mention_id)
        await workflow.change_status(
            session,
            mention_id=mention_id,
            status=status,
            version=item.version,
            actor=actor,
            actor_label=actor.username,
        )


async def _moderator(sessions: async_sessionmaker[AsyncSession]) -> User:
    async with sessions() as session, session.begin():
        return await staff_user(session, "mia", Role.MODERATOR)


async def _sub(sessions: async_sessionmaker[AsyncSession], sub_id: int) -> WebhookSubscription:
    async with sessions() as session:
        sub = await session.get(WebhookSubscription, sub_id)
        assert sub is not None
        return sub


async def test_every_delivery_verifies_with_the_reference_library(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    created = await _subscribe(client, admin, receiver)
    assert created["secret"].startswith("whsec_")
    ids = await _ingest(sessions, 1, 2)
    await _resolve(sessions, ids[0], await _moderator(sessions), Status.RESOLVED)

    totals = await deliver_due(sessions, settings=settings, client=http)

    assert totals["delivered"] == 3 and not receiver.refused
    assert [(r["type"], r["data"]["mention"]["id"]) for r in receiver.received] == [
        ("mention.created", ids[0]),
        ("mention.created", ids[1]),
        ("mention.updated", ids[0]),
    ]
    first = receiver.received[0]
    assert first["id"].startswith("evt_")  # webhook-id header
    assert all(r["id"] == r["webhook_id"] for r in receiver.received)  # body id = header id
    assert set(first["data"]["mention"]) >= {
        "id",
        "platform",
        "url",
        "status",
        "priority",
        "sentiment",
        "intents",
        "topics",
    }
    assert receiver.received[2]["data"]["mention"]["status"] == "resolved"
    assert receiver.received[2]["data"]["changes"] == ["status"]
    # The secret is shown once: never in a listing.
    listed = (await client.get("/api/v1/webhooks", headers=admin.headers)).json()
    assert "secret" not in listed[0] and created["secret"] not in json.dumps(listed)
    log = (
        await client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=admin.headers)
    ).json()["items"]
    assert [d["status_code"] for d in log] == [204, 204, 204]
    assert all(d["ok"] and d["duration_ms"] >= 0 for d in log)
    assert (await _sub(sessions, created["id"])).cursor == int(receiver.received[2]["id"][4:])


async def test_a_triage_change_writes_its_event_in_the_same_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [mention_id] = await _ingest(sessions, 1)
    actor = await _moderator(sessions)
    async with sessions() as session, session.begin():
        item = await workflow.get_queue_item(session, mention_id=mention_id)
        await workflow.change_status(
            session,
            mention_id=mention_id,
            status=Status.RESOLVED,
            version=item.version,
            actor=actor,
            actor_label="mia",
        )
        await session.rollback()

    async def updated() -> list[IntegrationEvent]:
        async with sessions() as session:
            stmt = select(IntegrationEvent).where(IntegrationEvent.type == "mention.updated")
            return list((await session.execute(stmt)).scalars())

    assert await updated() == []
    await _resolve(sessions, mention_id, actor, Status.RESOLVED)
    [event] = await updated()
    assert event.mention_id == mention_id
    assert event.payload["mention"]["status"] == "resolved"


async def test_a_receiver_down_then_back_gets_every_event_in_order_with_the_same_ids(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    created = await _subscribe(client, admin, receiver)
    receiver.down = True
    ids = await _ingest(sessions, 1, 2)
    actor = await _moderator(sessions)
    await _resolve(sessions, ids[1], actor, Status.ESCALATED)
    await _resolve(sessions, ids[0], actor, Status.RESOLVED)
    clock = Clock()

    for _ in range(3):  # 5 s, 30 s, 2 min of 503s; the runs in between find nothing due
        await deliver_due(sessions, settings=settings, client=http, clock=clock)
        await deliver_due(sessions, settings=settings, client=http, clock=clock)
        sub = await _sub(sessions, created["id"])
        assert sub.next_attempt_at is not None
        clock.now = sub.next_attempt_at
    first_ids = {r.headers["webhook-id"] for r in receiver.server.requests}
    assert len(first_ids) == 1 and receiver.received == []
    receiver.down = False

    await deliver_due(sessions, settings=settings, client=http, clock=clock)

    got = [(r["type"], r["data"]["mention"]["id"]) for r in receiver.received]
    assert got == [
        ("mention.created", ids[0]),
        ("mention.created", ids[1]),
        ("mention.updated", ids[1]),
        ("mention.updated", ids[0]),
    ]
    assert receiver.received[0]["webhook_id"] in first_ids  # the retry carries the first webhook-id
    log = (
        await client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=admin.headers)
    ).json()["items"]
    failures = [d for d in log if not d["ok"]]
    assert [d["status_code"] for d in failures] == [503, 503, 503]
    assert {d["webhook_id"] for d in failures} == first_ids
    assert [d["attempt"] for d in failures] == [3, 2, 1]
    ok = await _sub(sessions, created["id"])
    assert ok.attempts == 0 and ok.failing_since is None


async def test_a_closed_port_is_a_failure_retried_later(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    client: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    created = await _subscribe(client, admin, receiver)
    closed = f"http://127.0.0.1:{free_port()}/hook"
    answer = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"url": closed}, headers=admin.headers
    )
    assert answer.status_code == 200
    await _ingest(sessions, 1)
    clock = Clock()
    await deliver_due(sessions, settings=settings, client=http, clock=clock)
    sub = await _sub(sessions, created["id"])
    assert sub.attempts == 1 and sub.next_attempt_at == clock.now + timedelta(seconds=5)
    await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"url": receiver.url}, headers=admin.headers
    )
    clock.advance(5)
    await deliver_due(sessions, settings=settings, client=http, clock=clock)
    assert [r["type"] for r in receiver.received] == ["mention.created"]


async def test_a_run_killed_mid_delivery_sends_the_same_webhook_id_again(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    # The kill is simulated: the delivery task is cancelled after the receiver got the request
    # and before the cursor was committed (as a SIGKILLed worker would stop there).
    created = await _subscribe(client, admin, receiver)
    receiver.server.route("/hook", Reply(status=204, delay=30), receiver.handle, method="POST")
    [mention_id] = await _ingest(sessions, 1)
    clock = Clock()
    run = asyncio.create_task(
        deliver_subscription(
            sessions, sub_id=created["id"], settings=settings, client=http, clock=clock
        )
    )
    for _ in range(200):
        if receiver.server.requests:
            break
        await asyncio.sleep(0.02)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    killed_id = receiver.server.requests[0].headers["webhook-id"]
    sub = await _sub(sessions, created["id"])
    assert sub.cursor < int(killed_id[4:]) and sub.lease_until is not None

    await deliver_due(sessions, settings=settings, client=http, clock=clock)
    assert receiver.received == []  # the dead run's lease still holds

    clock.advance(lease_seconds(settings) + 1)
    await deliver_due(sessions, settings=settings, client=http, clock=clock)
    assert [r["webhook_id"] for r in receiver.received] == [killed_id]
    assert receiver.received[0]["data"]["mention"]["id"] == mention_id


async def test_a_day_of_failures_disables_the_subscription_and_says_so(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    created = await _subscribe(client, admin, receiver)
    receiver.down = True
    await _ingest(sessions, 1)
    clock = Clock()
    start = clock.now
    for _ in range(30):
        await deliver_due(sessions, settings=settings, client=http, clock=clock)
        sub = await _sub(sessions, created["id"])
        if not sub.enabled:
            break
        assert sub.next_attempt_at is not None
        clock.now = sub.next_attempt_at
    assert not sub.enabled and "failed for 24 h" in (sub.disabled_reason or "")
    assert timedelta(hours=24) <= clock.now - start < timedelta(hours=33)
    attempts = len(receiver.server.requests)
    assert 8 <= attempts <= 12
    async with sessions() as session:
        [event] = (
            await session.execute(
                select(IntegrationEvent).where(IntegrationEvent.type == "webhook.disabled")
            )
        ).scalars()
    assert event.payload["webhook"]["id"] == created["id"]
    clock.advance(3600)
    await deliver_due(sessions, settings=settings, client=http, clock=clock)
    assert len(receiver.server.requests) == attempts  # disabled: nothing more is sent

    # Enabling it again resumes from the same event, with fresh retries.
    receiver.down = False
    answer = await client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"enabled": True}, headers=admin.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["enabled"] is True and answer.json()["attempts"] == 0
    await deliver_due(sessions, settings=settings, client=http)
    assert [r["type"] for r in receiver.received] == ["mention.created"]


async def test_during_rotation_either_secret_verifies_then_only_the_new_one(
    engine: Any,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    from api.http.app import create_app

    short = settings.model_copy(update={"webhook_rotation_overlap_hours": 0.01})  # 36 s
    app = create_app(short, engine=engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://luister.test"
    ) as api:
        created = await _subscribe(api, admin, receiver)
        old = created["secret"]
        rotated = await api.post(f"/api/v1/webhooks/{created['id']}/rotate", headers=admin.headers)
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old and new.startswith("whsec_")
    receiver.secrets.append(new)  # the receiver is told the new secret; it keeps the old
    assert rotated.json()["previous_secret_until"] is not None

    await _ingest(sessions, 1)
    await deliver_due(sessions, settings=short, client=http)
    [during] = receiver.received
    assert set(during["verified"]) == {old, new}
    assert len(receiver.server.requests[0].headers["webhook-signature"].split(" ")) == 2

    clock = Clock()
    clock.advance(40)
    await _ingest(sessions, 2)
    await deliver_due(sessions, settings=short, client=http, clock=clock)
    assert receiver.received[1]["verified"] == [new]
    with pytest.raises(WebhookVerificationError):
        request = receiver.server.requests[1]
        Webhook(old).verify(request.body, request.headers)


async def test_webhook_urls_follow_the_ssrf_rules(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    for url in (
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "ftp://example.org/hook",
    ):
        refused = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["*"]}, headers=admin.headers
        )
        assert refused.status_code == 422, url
    # A name is checked where it resolves, at delivery: localhost is loopback and only the
    # address 127.0.0.1 is on the allow-list, so nothing is ever sent to it.
    named = await client.post(
        "/api/v1/webhooks",
        json={"url": f"http://localhost:{receiver.server.port}/hook", "events": ["*"]},
        headers=admin.headers,
    )
    assert named.status_code == 201
    await _ingest(sessions, 1)
    await deliver_due(sessions, settings=settings, client=http)
    assert receiver.server.requests == []
    log = (
        await client.get(f"/api/v1/webhooks/{named.json()['id']}/deliveries", headers=admin.headers)
    ).json()["items"]
    assert log and log[0]["status_code"] is None and "127.0.0.1" in log[0]["error"]


async def test_patch_rules_filters_and_replay(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
    make_staff: MakeStaff,
) -> None:
    created = await _subscribe(client, admin, receiver, filter={"platform": "bluesky"})
    path = f"/api/v1/webhooks/{created['id']}"
    for body in ({"url": None}, {"events": None}, {"enabled": None}, {"events": ["nope.*"]}):
        assert (await client.patch(path, json=body, headers=admin.headers)).status_code == 422
    moderator = await make_staff(Role.MODERATOR)
    assert (await client.get(path, headers=moderator.headers)).status_code == 403

    await _ingest(sessions, 1)
    await deliver_due(sessions, settings=settings, client=http)
    assert receiver.received == []  # filtered out, yet the cursor moved past it
    skipped_to = (await _sub(sessions, created["id"])).cursor
    assert skipped_to > created["cursor"]

    cleared = await client.patch(path, json={"filter": None}, headers=admin.headers)
    assert cleared.status_code == 200 and cleared.json()["filter"] == {}
    replay = await client.post(
        f"{path}/replay", json={"from_event_id": created["cursor"] + 1}, headers=admin.headers
    )
    assert replay.status_code == 200
    await deliver_due(sessions, settings=settings, client=http)
    assert [r["id"] for r in receiver.received] == [f"evt_{skipped_to}"]
    await deliver_due(sessions, settings=settings, client=http)
    assert len(receiver.received) == 1

    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert (await client.get(path, headers=admin.headers)).status_code == 404


async def test_an_event_committed_late_is_not_overtaken_on_postgresql(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    admin: Staff,
    receiver: Receiver,
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    await _subscribe(client, admin, receiver, events=["*"])
    async with sessions() as slow:
        await slow.begin()
        early = await events.record_event(slow, "digest.built", "digest:1", {"n": 1})
        async with sessions() as fast, fast.begin():
            late = await events.record_event(fast, "digest.built", "digest:2", {"n": 2})
        assert early < late
        await deliver_due(sessions, settings=settings, client=http)
        assert receiver.received == []  # event `late` waits while `early` may still commit
        await slow.commit()
    await deliver_due(sessions, settings=settings, client=http)
    assert [r["data"]["n"] for r in receiver.received] == [1, 2]

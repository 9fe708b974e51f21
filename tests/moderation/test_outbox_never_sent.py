"""A reply that certainly never left is retried like any transient failure, never "unsure".

Only loopback is reached: the platform is a fake Lemmy on 127.0.0.1, its host name is under
`.invalid` (which never resolves) and a static resolver answers for it, so no lookup or
connection leaves 127.0.0.0/8. Lemmy logs in before it creates the comment, so a failure there
is one the create request never followed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.http import (
    BlockedAddress,
    DeadlineExceeded,
    HttpPolicy,
    guarded_client,
    never_sent,
)
from connectors.lemmy import view_to_mention
from connectors.writes import OutcomeUnknown, WriteDeferred, WriteRejected, classify_send_failure
from listener.kit.http import http_policy
from listener.models import OutboxMessage, utcnow
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.outbox import service as outbox
from moderation.outbox.sending import attempt_failure, deliver
from tests.connectors.fake_platforms import FakeLemmy
from tests.connectors.servers import LoopbackServer, StaticResolver, loopback_available
from tests.moderation.outbox_helpers import add_source, row, staff

ANSWER = "Thanks Anna, the night mode ships on Monday with the new release."
HOST = "lemmy.invalid"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer("127.0.0.1") as running:
        yield running


async def _no_wait(_: float) -> None:
    return None


@pytest.fixture
def resolver() -> StaticResolver:
    """Answers only from its table: `lemmy.invalid` fails like NXDOMAIN until a test adds it."""
    return StaticResolver({})


@pytest.fixture
async def client(settings: Settings, resolver: StaticResolver) -> AsyncIterator[httpx.AsyncClient]:
    policy = http_policy(settings.model_copy(update={"http_allow_hosts": ["127.0.0.1", HOST]}))
    async with guarded_client(policy, resolver=resolver, sleep=_no_wait) as guarded:
        yield guarded


async def _lemmy_reply(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fake: FakeLemmy, port: int
) -> int:
    """A Lemmy source at `lemmy.invalid:<port>`, a heard comment and a reply due now."""
    config: dict[str, Any] = {
        "instance_url": f"http://{HOST}:{port}",
        "community": "fietsen",
        "username": "luister",
        "password": "pw",
    }
    source_id = await add_source(sessions, settings, kind="lemmy", config=config)
    anna = fake.add_comment("Where is the night mode?")
    item = view_to_mention(anna, languages={37: "en"}, ap_by_comment={})
    async with sessions() as session, session.begin():
        mention_id = (await ingest_mentions(session, [item], source_id=source_id)).new_mention_ids[
            0
        ]
    mod = await staff(sessions, "mod")
    async with sessions() as session, session.begin():
        draft = await outbox.create_reply(session, mention_id=mention_id, body=ANSWER, actor=mod)
        await outbox.schedule(
            session, outbox_id=draft.id, version=draft.version, actor=mod, settings=settings
        )
        return draft.id


async def _due_now(sessions: async_sessionmaker[AsyncSession], outbox_id: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(scheduled_at=utcnow())
        )


@pytest.mark.parametrize("failure", ["unresolvable", "refused"])
async def test_a_reply_that_never_left_is_retried_and_sent_once(
    failure: str,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    server: LoopbackServer,
    resolver: StaticResolver,
    client: httpx.AsyncClient,
) -> None:
    settings = settings.model_copy(update={"outbox_undo_seconds": 0})
    if failure == "refused":
        if not loopback_available("127.0.0.2"):
            pytest.skip("127.0.0.2 is not a usable loopback address here")
        resolver.answers[HOST] = ["127.0.0.2"]  # nothing listens there: connection refused
    fake = FakeLemmy(server)
    outbox_id = await _lemmy_reply(sessions, settings, fake, server.port)

    first = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    failed = await row(sessions, outbox_id)
    assert first.status == "failed" and failed.status == "failed"
    assert failed.unsure_since is None, "nothing left, so nothing can be on the platform"
    assert failed.scheduled_at is not None, "a transient failure gets its next try"
    assert "nothing was sent" in (failed.last_error or "")
    assert server.requests == [] and fake.creates == []

    resolver.answers[HOST] = ["127.0.0.1"]  # the name resolves again, to the fake platform
    await _due_now(sessions, outbox_id)
    second = await deliver(sessions, outbox_id=outbox_id, settings=settings, client=client)

    sent = await row(sessions, outbox_id)
    assert second.status == "sent" and sent.status == "sent" and sent.unsure_since is None
    assert len(fake.posted("/api/v3/comment")) == 1
    assert set(resolver.calls) == {HOST}  # the only name ever looked up, answered locally


async def test_a_tls_handshake_that_fails_means_the_request_never_left(
    server: LoopbackServer,
) -> None:
    # The fake speaks plain HTTP: a TLS client fails in the handshake, before any request.
    policy = HttpPolicy(allow_hosts=("127.0.0.1",), retries=0)
    async with guarded_client(policy) as guarded:
        with pytest.raises(httpx.ConnectError) as caught:
            await guarded.post(f"https://127.0.0.1:{server.port}/api/v3/comment", json={})

    assert never_sent(caught.value)
    assert isinstance(attempt_failure(caught.value), WriteDeferred)
    assert server.requests == []


def _raised_from(outer: Exception, inner: Exception) -> Exception:
    try:
        raise outer from inner
    except Exception as exc:
        return exc


def test_only_a_request_that_may_have_arrived_leaves_the_outcome_unknown() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/api/v3/comment")
    refused = httpx.ConnectError("[Errno 111] Connection refused", request=request)
    unresolved = httpx.ConnectError("cannot resolve lemmy.invalid", request=request)
    read_timeout = httpx.ReadTimeout("timed out", request=request)
    dropped = httpx.RemoteProtocolError("server disconnected", request=request)

    # A login or lookup before the create raises a bare httpx error: certainly not sent.
    assert isinstance(attempt_failure(unresolved), WriteDeferred)
    assert isinstance(attempt_failure(refused), WriteDeferred)
    # The create's own failure, already classified by the connector, keeps its meaning...
    assert isinstance(attempt_failure(classify_send_failure(refused, "Lemmy")), WriteDeferred)
    # ...and an unknown outcome raised from a connection that never opened is not unknown.
    wrapped = _raised_from(OutcomeUnknown("cannot check the thread"), unresolved)
    assert isinstance(attempt_failure(wrapped), WriteDeferred)
    # The guard refusing the address: nothing left, and no retry will change the address.
    blocked = BlockedAddress("resolves to 10.0.0.1, a private address", host="lemmy.invalid")
    assert isinstance(attempt_failure(blocked), WriteRejected)
    assert not attempt_failure(blocked).retryable
    # Whatever may have reached the platform stays unknown.
    for maybe_arrived in (read_timeout, dropped, DeadlineExceeded(30), RuntimeError("bug")):
        assert not never_sent(maybe_arrived)
        assert isinstance(attempt_failure(maybe_arrived), OutcomeUnknown)
    assert isinstance(attempt_failure(classify_send_failure(read_timeout, "Lemmy")), OutcomeUnknown)

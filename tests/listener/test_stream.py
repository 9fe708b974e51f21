"""The live stream: SSE from the event log, live, resumable, filtered, never skipping a commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.models import IntegrationEvent, Role
from listener.settings import Settings
from listener.stream import service
from listener.stream.service import BadTypes, EventReader, TypeFilter
from tests.conftest import MakeStaff
from tests.connectors.servers import free_port


@dataclass
class Message:
    id: int
    event: str
    data: dict[str, Any]


async def read_messages(
    response: httpx.Response, count: int, *, seconds: float = 20
) -> list[Message]:
    """The next `count` SSE messages with data (comments skipped)."""
    found: list[Message] = []
    fields: dict[str, str] = {}

    # One line iterator per response: a second read goes on where the first stopped.
    lines = response.__dict__.setdefault("_sse_lines", response.aiter_lines())

    async def _read() -> None:
        async for line in lines:
            if line == "":
                if "data" in fields:
                    found.append(
                        Message(int(fields["id"]), fields["event"], json.loads(fields["data"]))
                    )
                    if len(found) == count:
                        return
                fields.clear()
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    await asyncio.wait_for(_read(), seconds)
    return found


async def add_events(sessions: async_sessionmaker[AsyncSession], *types: str) -> list[int]:
    async with sessions() as session, session.begin():
        rows = [
            IntegrationEvent(type=t, subject="mention:1", payload={"n": i})
            for i, t in enumerate(types)
        ]
        session.add_all(rows)
        await session.flush()
        return [r.id for r in rows]


@pytest.fixture
async def server(engine: AsyncEngine, settings: Settings) -> AsyncIterator[str]:
    """The real app under uvicorn on loopback (ASGITransport buffers whole bodies)."""
    from api.http.app import create_app

    app = create_app(settings, engine=engine)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    config.timeout_graceful_shutdown = 2
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(400):  # bounded: a server that never starts fails the test
        if server.started:
            break
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def reader_headers(make_staff: MakeStaff) -> dict[str, str]:
    return (await make_staff(Role.ANALYST)).headers


def test_type_filter_takes_names_and_prefixes() -> None:
    wanted = TypeFilter.parse(["mention.created,alert.*", "reply.sent"])
    assert wanted.matches("mention.created") and wanted.matches("alert.raised")
    assert wanted.matches("reply.sent")
    assert not wanted.matches("mention.updated") and not wanted.matches("alerts")
    assert TypeFilter.parse(None).matches("anything")
    assert TypeFilter.parse(["*"]).matches("x.y")
    with pytest.raises(BadTypes):
        TypeFilter.parse(["mention created"])


async def test_a_client_gets_the_events_written_after_it_connected(
    server: str, sessions: async_sessionmaker[AsyncSession], reader_headers: dict[str, str]
) -> None:
    await add_events(sessions, "mention.created")  # before: not sent
    async with (
        httpx.AsyncClient(base_url=server, headers=reader_headers, timeout=30) as http,
        http.stream("GET", "/api/v1/events/stream") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        await asyncio.sleep(0.3)
        ids = await add_events(sessions, "mention.created", "mention.updated")
        got = await read_messages(response, 2)
    assert [m.id for m in got] == ids
    assert [m.event for m in got] == ["mention.created", "mention.updated"]
    assert got[0].data["payload"] == {"n": 0}
    assert got[0].data["created_at"]


async def test_resume_with_last_event_id_gets_exactly_the_missed_ones_filtered(
    server: str, sessions: async_sessionmaker[AsyncSession], reader_headers: dict[str, str]
) -> None:
    seen = await add_events(sessions, "mention.created")
    missed = await add_events(
        sessions, "mention.updated", "alert.raised", "mention.created", "reply.sent"
    )
    async with httpx.AsyncClient(base_url=server, headers=reader_headers, timeout=30) as http:
        headers = {"Last-Event-ID": str(seen[0])}
        async with http.stream("GET", "/api/v1/events/stream", headers=headers) as response:
            got = await read_messages(response, 4)
        assert [m.id for m in got] == missed
        query = {"after": str(seen[0]), "types": "mention.*"}
        async with http.stream("GET", "/api/v1/events/stream", params=query) as response:
            later = await add_events(sessions, "mention.updated")
            got = await read_messages(response, 3)
        assert [m.id for m in got] == [missed[0], missed[2], later[0]]
        bad = await http.get("/api/v1/events/stream", params={"types": "no spaces"})
        assert bad.status_code == 400
        assert (
            await http.get("/api/v1/events/stream", headers={"Last-Event-ID": "x"})
        ).status_code == 400


async def test_a_long_backlog_is_sent_a_page_at_a_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_events(sessions, *["mention.created"] * 7)
    chunks = [
        c
        async for c in service.event_stream(
            sessions, after=0, types=TypeFilter(), backlog=5, poll_seconds=0.01
        )
    ]
    sent = [c for c in chunks if c.startswith(b"id: ")]
    assert [int(c.split(b"\n")[0][4:]) for c in sent] == ids[:5]
    assert chunks[-1].startswith(b": backlog page sent")


@pytest.mark.backend("postgresql")
async def test_a_late_commit_below_a_visible_id_is_not_skipped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Writer A draws id n and commits after writer B (id n+1): the reader waits for n."""
    async with sessions() as session:
        reader = await EventReader.start(session, after=None)
    slow = sessions()
    await slow.begin()
    late = IntegrationEvent(type="mention.updated", subject="mention:1", payload={})
    slow.add(late)
    await slow.flush()
    [fast] = await add_events(sessions, "mention.created")
    assert fast == late.id + 1
    async with sessions() as session:
        assert await reader.next_batch(session) == []  # the hole at late.id holds it back
    await slow.commit()
    await slow.close()
    async with sessions() as session:
        got = await reader.next_batch(session)
    assert [e.id for e in got] == [late.id, fast]


@pytest.mark.backend("postgresql")
async def test_a_rolled_back_id_does_not_hold_the_stream(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        reader = await EventReader.start(session, after=None)
    async with sessions() as doomed:
        await doomed.begin()
        doomed.add(IntegrationEvent(type="x.y", subject="s", payload={}))
        await doomed.flush()
        await doomed.rollback()
    [after] = await add_events(sessions, "mention.created")
    async with sessions() as session:
        got = await reader.next_batch(session)
    assert [e.id for e in got] == [after]

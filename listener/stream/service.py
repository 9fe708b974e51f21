"""Reading the event log in id order for the live stream, without ever skipping a late commit.

Ids come from a sequence, so on PostgreSQL two writers can commit out of id order: event 12 may
be visible while 11 is still in flight. A reader that moved its cursor past 12 would never see 11.
So the reader delivers ids only while they are contiguous; at a hole it waits until the hole is
settled: either no other transaction holds a write lock on the table any more (then one fresh
read shows whatever filled it, and what is still missing was rolled back or deleted), or it has
waited `GAP_WAIT_SECONDS` (a writer that slow is logged and its event left to the webhooks'
replay). SQLite has one writer at a time and ids are taken under its lock: holes there are final.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import IntegrationEvent

log = logging.getLogger(__name__)

#: How often each open stream looks for new events (one indexed `id > cursor` query).
POLL_SECONDS = 0.5
#: A comment line this often keeps proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15.0
#: Events one request replays while catching up; then it ends and the client resumes from there.
BACKLOG_LIMIT = 1000
#: Rows read per query.
BATCH = 500
#: How long a hole in the ids may hold the stream back while some writer is still in flight.
GAP_WAIT_SECONDS = 30.0
#: On a fresh connection, how many ids below the newest are watched for late commits.
START_WINDOW = 200
#: What the client waits before reconnecting (the SSE `retry` field), in milliseconds.
RETRY_MS = 2000

_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$|^\*$")


class BadTypes(ValueError):
    """A `types` filter that is not a list of event types or `prefix.*` patterns."""


@dataclass(frozen=True)
class TypeFilter:
    """Which event types a client wants: exact names and `prefix.*` patterns; empty is all."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    everything: bool = True

    @classmethod
    def parse(cls, values: list[str] | None) -> TypeFilter:
        """`["mention.created,mention.*", "alert.raised"]` (repeated or comma separated)."""
        names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
        if not names or "*" in names:
            return cls()
        for name in names:
            if len(name) > 64 or not _TYPE.match(name):
                raise BadTypes(f"types: {name!r} is not an event type or a 'prefix.*' pattern")
        return cls(
            exact=frozenset(n for n in names if not n.endswith(".*")),
            prefixes=tuple(n[:-1] for n in names if n.endswith(".*")),
            everything=False,
        )

    def matches(self, event_type: str) -> bool:
        """Whether an event of this type goes to the client."""
        return (
            self.everything
            or event_type in self.exact
            or any(event_type.startswith(p) for p in self.prefixes)
        )


@dataclass(frozen=True)
class StreamEvent:
    """One event as the stream sends it."""

    id: int
    type: str
    subject: str
    payload: dict[str, Any]
    created_at: datetime

    def sse(self) -> bytes:
        """The Server-Sent Events message: `id`, `event` and one `data` line of JSON."""
        data = {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "created_at": self.created_at.isoformat(),
            "payload": self.payload,
        }
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n".encode()


async def newest_event_id(session: AsyncSession) -> int:
    """The highest event id stored now (0 when the log is empty)."""
    found = (await session.execute(select(func.max(IntegrationEvent.id)))).scalar_one()
    return int(found or 0)


async def _read(session: AsyncSession, *, after: int, limit: int) -> list[StreamEvent]:
    rows = await session.execute(
        select(
            IntegrationEvent.id,
            IntegrationEvent.type,
            IntegrationEvent.subject,
            IntegrationEvent.payload,
            IntegrationEvent.created_at,
        )
        .where(IntegrationEvent.id > after)
        .order_by(IntegrationEvent.id)
        .limit(limit)
    )
    return [StreamEvent(r.id, r.type, r.subject, r.payload or {}, r.created_at) for r in rows]


async def _writer_in_flight(session: AsyncSession) -> bool:
    """Whether another transaction holds a write lock on the event table (PostgreSQL).

    An INSERT takes that lock before it draws its id and keeps it until commit or rollback, so
    when nobody holds it, every id drawn so far is either committed or gone for good."""
    found = await session.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'relation'"
            " AND relation = 'integration_events'::regclass AND mode = 'RowExclusiveLock'"
            " AND pid <> pg_backend_pid())"
        )
    )
    return bool(found.scalar_one())


@dataclass
class EventReader:
    """A cursor over the event log that hands out each committed event once, in id order."""

    cursor: int
    #: Ids at or below the cursor's window that were already there when the stream started.
    seen: set[int] = field(default_factory=set)
    gap_since: float | None = None
    #: Whether the last read was a full batch (more may be waiting right away).
    more: bool = False
    clock: Callable[[], float] = time.monotonic

    @classmethod
    async def start(cls, session: AsyncSession, *, after: int | None) -> EventReader:
        """From `after` (a resume), else from now, watching the last ids for late commits."""
        if after is not None:
            return cls(cursor=after)
        newest = await newest_event_id(session)
        if session.get_bind().dialect.name != "postgresql":
            return cls(cursor=newest)
        floor = max(newest - START_WINDOW, 0)
        present = await _read(session, after=floor, limit=START_WINDOW + BATCH)
        return cls(cursor=floor, seen={e.id for e in present if e.id <= newest})

    async def next_batch(self, session: AsyncSession, *, limit: int = BATCH) -> list[StreamEvent]:
        """The events after the cursor that are safe to deliver; moves the cursor past them."""
        events = await _read(session, after=self.cursor, limit=limit)
        self.more = len(events) >= limit
        if session.get_bind().dialect.name == "postgresql":
            events = await self._contiguous(session, events, limit=limit)
        if events:
            self.cursor = events[-1].id
        out = [e for e in events if e.id not in self.seen]
        self.seen = {i for i in self.seen if i > self.cursor}
        return out

    async def _contiguous(
        self, session: AsyncSession, events: list[StreamEvent], *, limit: int
    ) -> list[StreamEvent]:
        hole = _first_hole(self.cursor, events)
        if hole is None:
            self.gap_since = None
            return events
        if not await _writer_in_flight(session):
            # Every id drawn so far is final: one more read sees whatever filled the holes.
            self.gap_since = None
            horizon = events[-1].id
            fresh = await _read(session, after=self.cursor, limit=limit)
            return [e for e in fresh if e.id <= horizon]
        now = self.clock()
        if self.gap_since is None:
            self.gap_since = now
        if now - self.gap_since >= GAP_WAIT_SECONDS:
            log.warning(
                "event stream: ids %d..%d still missing after %.0f s with a writer in flight;"
                " moving on",
                self.cursor + 1,
                events[hole].id - 1,
                GAP_WAIT_SECONDS,
            )
            self.gap_since = None
            return events
        return events[:hole]


def _first_hole(cursor: int, events: list[StreamEvent]) -> int | None:
    """The index of the first event whose id does not follow the one before it."""
    expected = cursor + 1
    for index, event in enumerate(events):
        if event.id != expected:
            return index
        expected = event.id + 1
    return None


async def event_stream(
    sessions: async_sessionmaker[AsyncSession],
    *,
    after: int | None,
    types: TypeFilter,
    poll_seconds: float = POLL_SECONDS,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    backlog: int = BACKLOG_LIMIT,
    stopping: Callable[[], bool] = lambda: False,
) -> AsyncIterator[bytes]:
    """Server-Sent Events from the log: what is after `after` (or from now), then live.

    A resume that finds more than `backlog` events sends that many and ends; the client
    reconnects with the last id it got and carries on. A session is held only during a read.
    `stopping` is checked between reads: when it says so the stream ends (server shutdown)."""
    async with sessions() as session:
        reader = await EventReader.start(session, after=after)
    yield f"retry: {RETRY_MS}\n: stream from {reader.cursor}\n\n".encode()
    delivered = 0
    caught_up = after is None
    last_sent = time.monotonic()
    while True:
        async with sessions() as session:
            batch = await reader.next_batch(session)
        for event in batch:
            if not types.matches(event.type):
                continue
            yield event.sse()
            last_sent = time.monotonic()
            delivered += 1
            if not caught_up and delivered >= backlog:
                yield b": backlog page sent; resume with Last-Event-ID\n\n"
                return
        if reader.more and batch:
            continue
        caught_up = True
        if stopping():
            return  # the server is shutting down: end cleanly, the client will resume
        if time.monotonic() - last_sent >= heartbeat_seconds:
            yield b": heartbeat\n\n"
            last_sent = time.monotonic()
        await anyio.sleep(poll_seconds)

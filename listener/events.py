"""The event log: what integrations hear about, written in the transaction of the change.

"The event log is the outbox" (docs/ARCHITECTURE.md): a service that changes something an
integration cares about calls `record_event` (or `record_mention_events`) with the session it
changes things in. The event commits or rolls back with the change; webhooks
(`listener.webhooks`), the live stream and `/integration-events` read the log in id order.

Ids grow monotonically, but on PostgreSQL concurrent transactions commit out of id order: a
reader that saw event 11 may later see event 10 appear. `settled_before` gives the instant
before which every event row is final, so a reader that keeps a cursor never skips a row.

Payloads are small JSON without secrets and without the text of posts: integrations fetch a
mention through the API when they need more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.id_lists import ids_in
from listener.models import Mention, MentionTag, MentionTopic, QueueItem, Tag, Topic, utcnow
from listener.models.events import IntegrationEvent
from listener.reactions import MentionsChanged, reactions_of

MENTION_CREATED = "mention.created"
MENTION_UPDATED = "mention.updated"
REPLY_SCHEDULED = "reply.scheduled"
REPLY_SENT = "reply.sent"
REPLY_FAILED = "reply.failed"
QUESTION_ANSWERED = "question.answered"
APPRECIATION_DONE = "appreciation.done"
SOURCE_FAILING = "source.failing"
SOURCE_PAUSED = "source.paused"
SOURCE_RECOVERED = "source.recovered"
ALERT_RAISED = "alert.raised"
DIGEST_BUILT = "digest.built"
WEBHOOK_DISABLED = "webhook.disabled"

#: Every event type the log carries; webhook subscriptions choose among them (or by prefix).
EVENT_TYPES: tuple[str, ...] = (
    MENTION_CREATED,
    MENTION_UPDATED,
    REPLY_SCHEDULED,
    REPLY_SENT,
    REPLY_FAILED,
    QUESTION_ANSWERED,
    APPRECIATION_DONE,
    SOURCE_FAILING,
    SOURCE_PAUSED,
    SOURCE_RECOVERED,
    ALERT_RAISED,
    DIGEST_BUILT,
    WEBHOOK_DISABLED,
)

#: How much later than its sequence number an event row's clock may be read (see settled_before).
SETTLE_SECONDS = 0.5

_CHUNK = 500
_TABLE = cast(Table, IntegrationEvent.__table__)


@dataclass(frozen=True)
class NewEvent:
    """One event to record."""

    type: str
    subject: str
    payload: dict[str, Any] = field(default_factory=dict)
    mention_id: int | None = None


def _created_at(session: AsyncSession) -> Any:
    # On PostgreSQL the database clock at insert time: `settled_before` compares it with the
    # start of the transactions still running, on the same clock.
    if session.get_bind().dialect.name == "postgresql":
        return func.clock_timestamp()
    return utcnow()


async def record_event(
    session: AsyncSession,
    type: str,
    subject: str,
    payload: dict[str, Any] | None = None,
    *,
    mention_id: int | None = None,
) -> int:
    """Add one event in the caller's transaction; return its id."""
    stmt = (
        insert(_TABLE)
        .values(
            type=type,
            subject=subject[:100],
            payload=payload or {},
            mention_id=mention_id,
            created_at=_created_at(session),
        )
        .returning(_TABLE.c.id)
    )
    return int((await session.execute(stmt)).scalar_one())


async def record_events(session: AsyncSession, events: Sequence[NewEvent]) -> None:
    """Add several events, in order, in the caller's transaction."""
    if not events:
        return
    stmt = insert(_TABLE).values(created_at=_created_at(session))
    rows = [
        {
            "type": e.type,
            "subject": e.subject[:100],
            "payload": e.payload,
            "mention_id": e.mention_id,
        }
        for e in events
    ]
    for start in range(0, len(rows), _CHUNK):
        await session.execute(stmt, rows[start : start + _CHUNK])


def _chunks(ids: Iterable[int], size: int = _CHUNK) -> list[list[int]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


#: Ids per query where they travel as one array (PostgreSQL): a batch is one round trip.
_ARRAY_CHUNK = 10_000


def _chunk_size(session: AsyncSession) -> int:
    return _ARRAY_CHUNK if session.get_bind().dialect.name == "postgresql" else _CHUNK


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def mention_payloads(session: AsyncSession, mention_ids: Iterable[int]) -> dict[int, Any]:
    """The mentions as events carry them: ids, platform, URL, queue state and tags, no text."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(mention_ids, _chunk_size(session)):
        rows = await session.execute(
            select(
                Mention.id,
                Mention.platform,
                Mention.source_id,
                Mention.url,
                Mention.language,
                Mention.created_at,
                Mention.sentiment_label,
                Mention.intents,
                QueueItem.status,
                QueueItem.priority,
                QueueItem.sla_band,
                QueueItem.assignee_id,
                QueueItem.claimed_by,
            )
            .outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
            .where(ids_in(session, Mention.id, chunk))
        )
        for row in rows:
            found[row.id] = {
                "id": row.id,
                "platform": row.platform,
                "source_id": row.source_id,
                "url": row.url,
                "language": row.language,
                "created_at": _iso(row.created_at),
                "status": row.status,
                "priority": row.priority,
                "band": row.sla_band,
                "assignee_id": row.assignee_id,
                "claimed_by": row.claimed_by,
                "sentiment": row.sentiment_label,
                "intents": list(row.intents or []),
                "topics": [],
                "tags": [],
            }
        topics = await session.execute(
            select(MentionTopic.mention_id, Topic.name)
            .join(Topic, Topic.id == MentionTopic.topic_id)
            .where(ids_in(session, MentionTopic.mention_id, chunk))
            .order_by(Topic.name)
        )
        for mention_id, name in topics:
            if mention_id in found:
                found[mention_id]["topics"].append(name)
        tags = await session.execute(
            select(MentionTag.mention_id, Tag.name)
            .join(Tag, Tag.id == MentionTag.tag_id)
            .where(ids_in(session, MentionTag.mention_id, chunk))
            .order_by(Tag.name)
        )
        for mention_id, name in tags:
            if mention_id in found:
                found[mention_id]["tags"].append(name)
    return found


async def record_mention_events(
    session: AsyncSession,
    type: str,
    mention_ids: Iterable[int],
    *,
    changes: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> None:
    """Record `type` for each mention with its current state (after the caller's change).

    `changes` names what changed (`status`, `assignee`, `priority_band`, `tags`, `claim`).
    """
    payloads = await mention_payloads(session, mention_ids)
    events = []
    for mention_id, mention in payloads.items():
        payload: dict[str, Any] = {"mention": mention}
        if changes:
            payload["changes"] = list(changes)
        if extra:
            payload |= extra
        events.append(NewEvent(type, f"mention:{mention_id}", payload, mention_id))
    await record_events(session, events)


# -- reactions: mention.created ---------------------------------------------------------------

#: Hook names in `api.wiring.build_reactions`: the first runs before the other reactions (so
#: `mention.created` precedes any event they write about the same mention), the second last
#: (so the event carries the priority and links they computed).
CREATED_HOOK = "events.mention_created"
CREATED_PAYLOAD_HOOK = "events.mention_created_payload"


#: Where a session keeps, between the two hooks, the event ids taken for the batch's
#: `mention.created` events (PostgreSQL): the batch they belong to and mention id -> event id.
_RESERVED_KEY = "luister.events.created_ids"


def _deferred(session: AsyncSession) -> bool:
    """Whether mention.created can wait for the payload hook: its rows are then written once."""
    return (
        session.get_bind().dialect.name == "postgresql"
        and CREATED_PAYLOAD_HOOK in reactions_of(session).names
    )


async def mention_created_reaction(session: AsyncSession, change: MentionsChanged) -> None:
    """Record `mention.created` for each newly stored mention, in the ingest's transaction.

    On PostgreSQL, when the payload hook runs later in the same batch, this only takes the
    events' ids from the log's sequence (one statement): ids are what orders the log, so the
    events still precede whatever the reactions between the two hooks write, and the payload
    hook inserts each row once with its final payload, instead of inserting it here and
    rewriting it there. (A reader's horizon, `settled_before`, still holds: the rows are stamped
    by the database clock when inserted, after their ids were taken, in a transaction that has
    been writing since before.)
    """
    if not change.new_ids:
        return
    if not _deferred(session):
        await record_mention_events(session, MENTION_CREATED, change.new_ids)
        return
    mention_ids = sorted(set(change.new_ids))
    ids = sorted(
        (
            await session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('integration_events', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": len(mention_ids)},
            )
        ).scalars()
    )
    session.info[_RESERVED_KEY] = (change, dict(zip(mention_ids, ids, strict=True)))


async def mention_created_payload_reaction(session: AsyncSession, change: MentionsChanged) -> None:
    """Bring the `mention.created` events of this batch up to date with the other reactions."""
    reserved = session.info.pop(_RESERVED_KEY, None)
    if not change.new_ids:
        return
    if reserved is not None and reserved[0] is change:
        await _insert_created(session, reserved[1])
        return
    for chunk in _chunks(change.new_ids):
        events = (
            await session.execute(
                select(_TABLE.c.id, _TABLE.c.mention_id).where(
                    _TABLE.c.type == MENTION_CREATED, _TABLE.c.mention_id.in_(chunk)
                )
            )
        ).all()
        payloads = await mention_payloads(session, chunk)
        # A mention left without a queue item (our own post) or gone (erased) was not created
        # as far as integrations are concerned.
        dropped = [
            event_id
            for event_id, mention_id in events
            if payloads.get(mention_id, {}).get("status") is None
        ]
        if dropped:
            await session.execute(delete(_TABLE).where(_TABLE.c.id.in_(dropped)))
        rows = [
            {"event_id": event_id, "new_payload": {"mention": payloads[mention_id]}}
            for event_id, mention_id in events
            if event_id not in dropped
        ]
        if rows:
            await session.execute(
                update(_TABLE)
                .where(_TABLE.c.id == bindparam("event_id"))
                .values(payload=bindparam("new_payload")),
                rows,
            )


# One statement for the whole batch: the rows travel as arrays, stamped by the database clock.
_INSERT_CREATED = text(
    "INSERT INTO integration_events (id, type, subject, payload, mention_id, created_at) "
    "SELECT e.id, :type, e.subject, CAST(e.payload AS JSONB), e.mention_id, clock_timestamp() "
    "FROM unnest(CAST(:ids AS BIGINT[]), CAST(:subjects AS VARCHAR[]), "
    "CAST(:payloads AS TEXT[]), CAST(:mention_ids AS BIGINT[])) "
    "AS e(id, subject, payload, mention_id) ORDER BY e.id"
)


async def _insert_created(session: AsyncSession, event_ids: dict[int, int]) -> None:
    """Insert mention.created, under the ids taken earlier, for the mentions still queued."""
    payloads = await mention_payloads(session, event_ids)
    # A mention left without a queue item (our own post) or gone (erased) was not created
    # as far as integrations are concerned: its id stays unused, as a rolled-back one would.
    kept = [
        (event_ids[mention_id], mention_id, payloads[mention_id])
        for mention_id in event_ids
        if payloads.get(mention_id, {}).get("status") is not None
    ]
    if not kept:
        return
    await session.execute(
        _INSERT_CREATED,
        {
            "type": MENTION_CREATED,
            "ids": [event_id for event_id, _, _ in kept],
            "subjects": [f"mention:{mention_id}"[:100] for _, mention_id, _ in kept],
            "payloads": [orjson.dumps({"mention": payload}).decode() for _, _, payload in kept],
            "mention_ids": [mention_id for _, mention_id, _ in kept],
        },
    )


# -- readers ----------------------------------------------------------------------------------


async def settled_before(session: AsyncSession) -> datetime | None:
    """The instant before which every event row is committed or rolled back (None: all are).

    On PostgreSQL an event's id is taken when it is inserted, not when its transaction commits.
    A row stamped (database clock) before the start of every transaction still writing, minus a
    small margin, can no longer be overtaken by an invisible row with a smaller id. Call it in
    its own statement before reading the log; SQLite has one writer at a time, so ids already
    commit in order there.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    now, oldest = (
        await session.execute(
            text(
                "SELECT clock_timestamp(), (SELECT min(xact_start) FROM pg_stat_activity "
                "WHERE datname = current_database() AND backend_xid IS NOT NULL "
                "AND pid <> pg_backend_pid())"
            )
        )
    ).one()
    horizon: datetime = now if oldest is None else min(now, oldest)
    return horizon - timedelta(seconds=SETTLE_SECONDS)


async def purge_events(session: AsyncSession, *, before: datetime) -> int:
    """Drop events older than `before` (the retention setting); return how many."""
    result = await session.execute(delete(_TABLE).where(_TABLE.c.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


async def last_event_id(session: AsyncSession) -> int:
    """The newest event id (0 when the log is empty)."""
    return int((await session.execute(select(func.max(_TABLE.c.id)))).scalar_one() or 0)

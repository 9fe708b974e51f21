"""Sending the event log to subscriptions: in id order, at least once, same webhook-id.

Per subscription, events go strictly in id order (so also in order per mention): the cursor is
the last event id delivered, and it moves only in the transaction that records a 2xx. An event
that fails blocks the later ones of its subscription and is retried with backoff (5 s, 30 s,
2 min, 10 min, 1 h, 2 h, 4 h, 8 h, ...); when the head event has failed for
`webhook_give_up_hours`, or the receiver answers 410 Gone, the subscription is disabled and a
`webhook.disabled` event says so. A worker holds a lease on the subscription while it delivers;
a worker killed mid-delivery leaves the cursor where it was, and the next one (after the lease
expires) sends the same event with the same `webhook-id`: receivers deduplicate on it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.http import describe_error, parse_retry_after, redact_url
from listener.events import EVENT_TYPES, WEBHOOK_DISABLED, record_event, settled_before
from listener.models import Mention, utcnow
from listener.models.events import IntegrationEvent, WebhookDelivery, WebhookSubscription
from listener.query import QuerySyntaxError, parse, where_clause
from listener.settings import Settings
from listener.webhooks import signing
from listener.webhooks.service import signing_secrets

log = logging.getLogger(__name__)

#: Waits after the 1st, 2nd, ... failure of the same event; the last repeats.
RETRY_DELAYS = (5, 30, 120, 600, 3600, 7200, 14400, 28800)
#: Events read per batch, and the work one run does for one subscription before it yields.
BATCH = 100
RUN_BUDGET_SECONDS = 60.0
#: Subscriptions delivered at once by one run.
CONCURRENCY = 8

Clock = Callable[[], datetime]


def webhook_id(event_id: int) -> str:
    """The stable `webhook-id` of an event: the same on every attempt and every replay."""
    return f"evt_{event_id}"


def retry_delay(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure in a row."""
    return float(RETRY_DELAYS[min(max(attempts, 1), len(RETRY_DELAYS)) - 1])


def lease_seconds(settings: Settings) -> float:
    """How long a run holds a subscription: its budget plus one slow delivery, with margin."""
    return RUN_BUDGET_SECONDS + 2 * settings.webhook_timeout_seconds + 30


def wants(
    sub: WebhookSubscription, event: IntegrationEvent, matching: set[int] | None = None
) -> bool:
    """Whether the subscription asked for this event (type patterns, then the filter).

    `matching`: the ids of the batch's mentions its filter's query matches (None: no query).
    Only the documented types (`EVENT_TYPES`) go out: the desk's own events (presence) stay in.
    """
    if event.type not in EVENT_TYPES:
        return False
    if not any(
        p == "*" or p == event.type or (p.endswith(".*") and event.type.startswith(p[:-1]))
        for p in sub.events
    ):
        return False
    mention = (event.payload or {}).get("mention")
    rules = sub.filter or {}
    if not isinstance(mention, dict) or not rules:
        return True
    if rules.get("platform") and mention.get("platform") not in rules["platform"]:
        return False
    if rules.get("source_id") and mention.get("source_id") not in rules["source_id"]:
        return False
    if matching is not None and mention.get("id") not in matching:
        return False
    minimum = rules.get("min_priority")
    return minimum is None or (mention.get("priority") or 0) >= minimum


async def query_matches(
    sessions: async_sessionmaker[AsyncSession],
    sub: WebhookSubscription,
    events: list[IntegrationEvent],
) -> set[int] | None:
    """The mentions of `events` the subscription's query matches, as they are now (None: none)."""
    text = (sub.filter or {}).get("query")
    if not text:
        return None
    ids = {
        mention["id"]
        for event in events
        if isinstance(mention := (event.payload or {}).get("mention"), dict)
        and isinstance(mention.get("id"), int)
    }
    if not ids:
        return set()
    async with sessions() as session:
        dialect = session.get_bind().dialect.name
        try:
            clause = where_clause(parse(text, field="filter.query"), dialect=dialect)
        except QuerySyntaxError:
            log.warning("webhook %s: its query cannot be read; no mention event matches", sub.id)
            return set()
        rows = await session.execute(select(Mention.id).where(Mention.id.in_(ids), clause))
        return set(rows.scalars())


def body_of(event: IntegrationEvent) -> bytes:
    """The JSON body: `{"id", "type", "timestamp", "data"}` (Standard Webhooks' shape)."""
    document = {
        "id": webhook_id(event.id),
        "type": event.type,
        "timestamp": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Attempt:
    """What one POST gave: a status (None if no answer), its time, an error, a server wait."""

    status: int | None
    duration_ms: int
    error: str | None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """2xx only: a redirect is a failure (never followed), as the specification says."""
        return self.status is not None and 200 <= self.status < 300


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    seconds: float,
) -> Attempt:
    """POST one signed delivery through the guarded client; never raises for HTTP failures."""
    started = time.monotonic()
    try:
        with anyio.fail_after(seconds):
            response = await client.post(
                url,
                content=body,
                headers={**headers, "Content-Type": "application/json"},
                follow_redirects=False,
                timeout=seconds,
            )
    except TimeoutError:
        return Attempt(None, _ms(started), f"no answer within {seconds:g} s")
    except httpx.HTTPError as exc:
        return Attempt(None, _ms(started), describe_error(exc)[:1000])
    error = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
    retry_after = response.headers.get("retry-after")
    wait = parse_retry_after(retry_after) if retry_after else None
    return Attempt(response.status_code, _ms(started), error, wait)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass
class RunResult:
    """What one run did for one subscription."""

    delivered: int = 0
    skipped: int = 0
    failed: int = 0
    disabled: bool = False


async def _take_lease(
    sessions: async_sessionmaker[AsyncSession], sub_id: int, *, now: datetime, until: datetime
) -> bool:
    async with sessions() as session, session.begin():
        taken = await session.execute(
            update(WebhookSubscription)
            .where(
                WebhookSubscription.id == sub_id,
                WebhookSubscription.enabled.is_(True),
                or_(
                    WebhookSubscription.next_attempt_at.is_(None),
                    WebhookSubscription.next_attempt_at <= now,
                ),
                or_(
                    WebhookSubscription.lease_until.is_(None),
                    WebhookSubscription.lease_until < now,
                ),
            )
            .values(lease_until=until)
            .returning(WebhookSubscription.id)
            .execution_options(synchronize_session=False)
        )
        return taken.scalar_one_or_none() is not None


async def _pending(
    sessions: async_sessionmaker[AsyncSession], *, after: int, limit: int
) -> list[IntegrationEvent]:
    async with sessions() as session:
        horizon = await settled_before(session)
        await session.commit()  # the read below takes a snapshot after the horizon was measured
        stmt = select(IntegrationEvent).where(IntegrationEvent.id > after)
        if horizon is not None:
            stmt = stmt.where(IntegrationEvent.created_at < horizon)
        events = (await session.execute(stmt.order_by(IntegrationEvent.id).limit(limit))).scalars()
        return list(events)


def _held(sub_id: int, lease: datetime) -> Any:
    # Writes only while this run's lease is the one stored: a run that outlived its lease (and
    # was overtaken) cannot move the cursor back or forth.
    return (WebhookSubscription.id == sub_id, WebhookSubscription.lease_until == lease)


async def _advance(
    sessions: async_sessionmaker[AsyncSession],
    sub_id: int,
    lease: datetime,
    *,
    cursor: int,
    log_row: WebhookDelivery | None = None,
) -> bool:
    async with sessions() as session, session.begin():
        moved = await session.execute(
            update(WebhookSubscription)
            .where(*_held(sub_id, lease))
            .values(cursor=cursor, attempts=0, failing_since=None, next_attempt_at=None)
            .returning(WebhookSubscription.id)
            .execution_options(synchronize_session=False)
        )
        if moved.scalar_one_or_none() is None:
            return False
        if log_row is not None:
            session.add(log_row)
        return True


async def _fail(
    sessions: async_sessionmaker[AsyncSession],
    sub: WebhookSubscription,
    lease: datetime,
    *,
    event: IntegrationEvent,
    attempt: Attempt,
    settings: Settings,
    now: datetime,
) -> bool:
    """Record a failed attempt; disable the subscription when it has failed long enough."""
    attempts = sub.attempts + 1
    failing_since = sub.failing_since or now
    gave_up = now - failing_since >= timedelta(hours=settings.webhook_give_up_hours)
    gone = attempt.status == 410
    disabled = gave_up or gone
    wait = max(retry_delay(attempts), min(attempt.retry_after or 0.0, 3600.0))
    next_at = None if disabled else now + timedelta(seconds=wait)
    async with sessions() as session, session.begin():
        values: dict[str, Any] = {
            "attempts": attempts,
            "failing_since": failing_since,
            "next_attempt_at": next_at,
        }
        if disabled:
            reason = (
                "the receiver answered 410 Gone"
                if gone
                else f"deliveries failed for {settings.webhook_give_up_hours:g} h: {attempt.error}"
            )
            values |= {"enabled": False, "disabled_reason": reason[:1000], "updated_at": now}
        changed = await session.execute(
            update(WebhookSubscription)
            .where(*_held(sub.id, lease))
            .values(**values)
            .returning(WebhookSubscription.id)
            .execution_options(synchronize_session=False)
        )
        if changed.scalar_one_or_none() is None:
            return False
        session.add(_log(sub.id, event, attempts, attempt, next_at, now))
        if disabled:
            await record_event(
                session,
                WEBHOOK_DISABLED,
                f"webhook:{sub.id}",
                {
                    "webhook": {"id": sub.id, "url": redact_url(sub.url)},
                    "reason": values["disabled_reason"],
                    "event_id": event.id,
                    "attempts": attempts,
                },
            )
    log.warning(
        "webhook %s: event %s attempt %s failed: %s%s",
        sub.id,
        event.id,
        attempts,
        attempt.error,
        " (disabled)" if disabled else "",
    )
    return disabled


def _log(
    sub_id: int,
    event: IntegrationEvent,
    number: int,
    attempt: Attempt,
    next_at: datetime | None,
    now: datetime,
) -> WebhookDelivery:
    return WebhookDelivery(
        subscription_id=sub_id,
        event_id=event.id,
        event_type=event.type,
        webhook_id=webhook_id(event.id),
        attempt=number,
        ok=attempt.ok,
        status_code=attempt.status,
        duration_ms=attempt.duration_ms,
        error=attempt.error,
        next_attempt_at=next_at,
        created_at=now,
    )


async def _release(
    sessions: async_sessionmaker[AsyncSession], sub_id: int, lease: datetime
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(WebhookSubscription)
            .where(*_held(sub_id, lease))
            .values(lease_until=None)
            .execution_options(synchronize_session=False)
        )


async def deliver_subscription(
    sessions: async_sessionmaker[AsyncSession],
    *,
    sub_id: int,
    settings: Settings,
    client: httpx.AsyncClient,
    clock: Clock = utcnow,
) -> RunResult:
    """Deliver what is due for one subscription, in order, until it fails or runs out of time."""
    result = RunResult()
    now = clock()
    lease = now + timedelta(seconds=lease_seconds(settings))
    if not await _take_lease(sessions, sub_id, now=now, until=lease):
        return result
    started = time.monotonic()
    try:
        async with sessions() as session:
            sub = await session.get(WebhookSubscription, sub_id)
            assert sub is not None
            session.expunge(sub)
        key = settings.secret_bytes()
        cursor = sub.cursor
        while time.monotonic() - started < RUN_BUDGET_SECONDS:
            events = await _pending(sessions, after=cursor, limit=BATCH)
            if not events:
                break
            matching = await query_matches(sessions, sub, events)
            for event in events:
                if not wants(sub, event, matching):
                    cursor = event.id
                    result.skipped += 1
                    continue
                if cursor != sub.cursor:  # skipped events first, so a failure keeps them skipped
                    if not await _advance(sessions, sub_id, lease, cursor=cursor):
                        return result
                    sub.cursor = cursor
                now = clock()
                body = body_of(event)
                headers = signing.headers(
                    signing_secrets(sub, key=key, now=now),
                    webhook_id(event.id),
                    int(now.timestamp()),
                    body,
                )
                attempt = await post(
                    client,
                    sub.url,
                    body=body,
                    headers=headers,
                    seconds=settings.webhook_timeout_seconds,
                )
                now = clock()
                if not attempt.ok:
                    result.failed += 1
                    result.disabled = await _fail(
                        sessions,
                        sub,
                        lease,
                        event=event,
                        attempt=attempt,
                        settings=settings,
                        now=now,
                    )
                    return result
                row = _log(sub_id, event, sub.attempts + 1, attempt, None, now)
                if not await _advance(sessions, sub_id, lease, cursor=event.id, log_row=row):
                    return result
                cursor = sub.cursor = event.id
                sub.attempts, sub.failing_since = 0, None
                result.delivered += 1
                if time.monotonic() - started >= RUN_BUDGET_SECONDS:
                    break
            else:
                continue
            break
        if cursor != sub.cursor:
            await _advance(sessions, sub_id, lease, cursor=cursor)
    finally:
        # Not on cancellation: a killed run leaves its lease, which expires (shielded writes
        # during cancellation would be as likely to hang as to help).
        if not _cancelled():
            await _release(sessions, sub_id, lease)
    return result


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def due_subscriptions(session: AsyncSession, *, now: datetime) -> list[int]:
    """Enabled subscriptions that are not waiting for a retry or held, with events after them."""
    newest = select(func.max(IntegrationEvent.id)).scalar_subquery()
    stmt = (
        select(WebhookSubscription.id)
        .where(
            WebhookSubscription.enabled.is_(True),
            or_(
                WebhookSubscription.next_attempt_at.is_(None),
                WebhookSubscription.next_attempt_at <= now,
            ),
            or_(WebhookSubscription.lease_until.is_(None), WebhookSubscription.lease_until < now),
            WebhookSubscription.cursor < func.coalesce(newest, 0),
        )
        .order_by(WebhookSubscription.id)
    )
    return list((await session.execute(stmt)).scalars())


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    client: httpx.AsyncClient,
    clock: Clock = utcnow,
) -> dict[str, int]:
    """Deliver for every due subscription (a few at a time); counts for the job's result."""
    async with sessions() as session:
        due = await due_subscriptions(session, now=clock())
    limiter = asyncio.Semaphore(CONCURRENCY)
    totals = {"subscriptions": len(due), "delivered": 0, "failed": 0, "disabled": 0}

    async def one(sub_id: int) -> None:
        async with limiter:
            try:
                done = await deliver_subscription(
                    sessions, sub_id=sub_id, settings=settings, client=client, clock=clock
                )
            except signing.SecretUnreadable as exc:
                log.error("webhook %s: %s", sub_id, exc)
                return
        totals["delivered"] += done.delivered
        totals["failed"] += done.failed
        totals["disabled"] += done.disabled

    await asyncio.gather(*(one(sub_id) for sub_id in due))
    return totals

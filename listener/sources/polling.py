"""Polling a source: fetch through its connector, store the items and the cursor together.

The database is the truth: a poll leases its source, and the items, the new cursor and the next
poll time are committed in one transaction. A worker that dies mid-poll commits nothing; its
lease expires and the source is polled again from the same cursor, and ingest's idempotency
makes the retry harmless.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors._parse_pool import parse_limits
from connectors.base import RejectedItem
from connectors.http import FetchError, describe_error
from connectors.items import MentionIn, storable_text
from connectors.registry import get_connector
from listener import metrics
from listener.events import SOURCE_FAILING, SOURCE_PAUSED, SOURCE_RECOVERED, record_event
from listener.models import Source, utcnow
from listener.query import MentionFacts, Node, matches, parse
from listener.settings import Settings
from listener.sources.credentials import open_config
from listener.sources.ingest import (
    IngestReport,
    describe_store_error,
    ingest_mentions,
    quarantine_item,
)

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll did."""

    source_id: int
    ok: bool
    report: IngestReport | None = None
    error: str | None = None
    skipped: str | None = None


def backoff_delay(failures: int, interval: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with full jitter, never shorter than half the poll interval."""
    ceiling = min(MAX_BACKOFF.total_seconds(), interval * 2 ** min(failures, 16))
    seconds = (rng or random).uniform(interval / 2, max(ceiling, interval / 2))
    return timedelta(seconds=seconds)


async def due_sources(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 100
) -> list[tuple[int, datetime | None]]:
    """Sources whose next poll is due and that nobody is polling, with their expired lease.

    The expired lease (None if the last poll finished) tells a retry after a crashed worker
    apart from the poll that crashed, so job queues can key them differently.
    """
    now = now or utcnow()
    stmt = (
        select(Source.id, Source.poll_lease_until)
        .where(
            Source.enabled.is_(True),
            Source.paused_reason.is_(None),
            or_(Source.next_poll_at.is_(None), Source.next_poll_at <= now),
            or_(Source.poll_lease_until.is_(None), Source.poll_lease_until < now),
        )
        .order_by(Source.next_poll_at)
        .limit(limit)
    )
    return [(row.id, row.poll_lease_until) for row in await session.execute(stmt)]


async def _lease(
    sessions: async_sessionmaker[AsyncSession], source_id: int, seconds: int, force: bool
) -> Source | None:
    """Take the source for one poll, unless someone else holds it (or it is not due)."""
    now = utcnow()
    conditions = [
        Source.id == source_id,
        or_(Source.poll_lease_until.is_(None), Source.poll_lease_until < now),
    ]
    if not force:
        conditions += [Source.enabled.is_(True), Source.paused_reason.is_(None)]
    async with sessions() as session, session.begin():
        # One round trip: the lease and the source's row come back together.
        taken = await session.scalars(
            update(Source)
            .where(and_(*conditions))
            .values(poll_lease_until=now + timedelta(seconds=seconds))
            .returning(Source)
            .execution_options(synchronize_session=False)
        )
        return taken.one_or_none()


async def poll_source(
    sessions: async_sessionmaker[AsyncSession],
    *,
    source_id: int,
    settings: Settings,
    client: httpx.AsyncClient,
    force: bool = False,
) -> PollOutcome:
    """Poll one source once; failures are recorded on the source, never raised."""
    source = await _lease(sessions, source_id, settings.job_timeout_seconds, force)
    if source is None:
        return PollOutcome(source_id, ok=False, skipped="not due, paused or being polled")
    try:
        connector = get_connector(source.kind)
        config = open_config(connector.config_model, source.config, key=settings.secret_bytes())
        with (
            parse_limits(
                budget_seconds=settings.parse_budget_seconds, workers=settings.parse_workers
            ),
            metrics.POLL_SECONDS.labels(kind=source.kind).time(),
        ):
            result = await connector.fetch(client=client, config=config, cursor=dict(source.cursor))
        items = kept_items(source, result.items)
    except Exception as exc:  # one source's failure must never stop the others
        return await _record_failure(sessions, source, exc, settings)

    try:
        report = await _store(sessions, source, items, result.rejected, result.cursor)
    except Exception as exc:  # storing failed: a failed poll like any other, never a silent one
        log.exception("poll of source %s fetched but could not store", source.id)
        return await _record_failure(sessions, source, exc, settings, storing=True)
    log.info("polled source %s: %s", source.id, report.counts())
    return PollOutcome(source.id, ok=True, report=report)


@lru_cache(maxsize=256)
def _keep_filter(text: str) -> Node:
    return parse(text, field="config.keep")


def item_facts(item: MentionIn, source: Source) -> MentionFacts:
    """What a keep-filter sees of a fetched item: as the platform gives it, before tagging."""
    author = item.author
    return MentionFacts(
        text=item.text,
        created_at=item.created_at,
        platform=item.platform,
        language=item.language,
        source_id=source.id,
        source_name=source.name,
        author_handle=author.handle if author else None,
        author_followers=author.followers if author else None,
    )


def kept_items(source: Source, items: list[MentionIn]) -> list[MentionIn]:
    """The items the source's keep-filter matches (all of them when it has none)."""
    if not source.keep_query:
        return items
    node = _keep_filter(source.keep_query)
    kept = [item for item in items if matches(node, item_facts(item, source))]
    if len(kept) < len(items):
        log.info("source %s kept %s of %s items", source.id, len(kept), len(items))
    return kept


async def _store(
    sessions: async_sessionmaker[AsyncSession],
    source: Source,
    items: list[MentionIn],
    rejected: list[RejectedItem],
    cursor: Mapping[str, object],
) -> IngestReport:
    """Store one poll's items, its rejected items and the new cursor in one transaction."""
    now = utcnow()
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, items, source_id=source.id)
        for item in rejected:
            await quarantine_item(
                session,
                source_id=source.id,
                stage="normalize",
                payload=item.raw,
                error=item.reason,
                external_id=item.external_id,
            )
        await session.execute(
            update(Source)
            .where(Source.id == source.id)
            .values(
                cursor=cursor,
                last_polled_at=now,
                last_success_at=now,
                last_error=None,
                consecutive_failures=0,
                next_poll_at=now + timedelta(seconds=source.poll_interval_seconds),
                poll_lease_until=None,
                total_polls=Source.total_polls + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if source.consecutive_failures:
            await record_event(
                session,
                SOURCE_RECOVERED,
                f"source:{source.id}",
                {"source": _source_ref(source), "after_failures": source.consecutive_failures},
            )
    return report


def _source_ref(source: Source) -> dict[str, object]:
    return {"id": source.id, "kind": source.kind, "name": source.name}


def _failure_message(exc: BaseException, *, storing: bool) -> str:
    """One readable line for `last_error`: what failed, never the SQL statement."""
    message = describe_store_error(exc) if isinstance(exc, DBAPIError) else describe_error(exc)
    if storing:
        message = f"fetched, but storing the items failed: {message}"
    # An error may quote what it choked on; `last_error` must store whatever it says.
    return storable_text(message)[:1000]


async def _record_failure(
    sessions: async_sessionmaker[AsyncSession],
    source: Source,
    exc: BaseException,
    settings: Settings,
    *,
    storing: bool = False,
) -> PollOutcome:
    message = _failure_message(exc, storing=storing)
    metrics.POLL_FAILURES.labels(kind=source.kind, stage="store" if storing else "fetch").inc()
    failures = source.consecutive_failures + 1
    now = utcnow()
    delay = backoff_delay(failures, source.poll_interval_seconds)
    # Any refusal that says how long to wait (429 Retry-After, Stack Exchange's backoff) wins.
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, FetchError) and retry_after:
        delay = max(delay, timedelta(seconds=float(retry_after)))
    values: dict[str, object] = {
        "last_polled_at": now,
        "last_error": message,
        "consecutive_failures": failures,
        "next_poll_at": now + delay,
        "poll_lease_until": None,
        "total_polls": Source.total_polls + 1,
    }
    if failures >= settings.max_consecutive_failures:
        values["paused_reason"] = f"paused after {failures} failed polls in a row; last: {message}"
    try:
        async with sessions() as session, session.begin():
            await session.execute(
                update(Source)
                .where(Source.id == source.id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if failures == 1 or "paused_reason" in values:
                paused = "paused_reason" in values
                await record_event(
                    session,
                    SOURCE_PAUSED if paused else SOURCE_FAILING,
                    f"source:{source.id}",
                    {"source": _source_ref(source), "failures": failures, "error": message},
                )
    except Exception:  # the database itself is failing: the lease expires, the sweep retries
        log.exception("could not record the failed poll of source %s", source.id)
    log.warning("poll of source %s failed (%s in a row): %s", source.id, failures, message)
    return PollOutcome(source.id, ok=False, error=message)

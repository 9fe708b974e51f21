"""Deletions at the source: ask the platforms whether recent and open mentions still exist.

Each cycle takes, per enabled source whose connector can re-check, the mentions that are recent
(`recheck_window_days`) or still open in the queue and were not asked about in the last
`recheck_interval_minutes`, least recently checked first, at most `recheck_per_source` of them
and `recheck_per_cycle` in all. The connector says which are gone (deleted, removed, no longer
public). A gone mention is hidden (`deleted_at_source`: out of listings, search and the queue)
and its text, HTML, raw payload and matched topic spans are dropped, in the transaction that
records it. Under a legal hold its last known content is first copied to `mention_evidence`,
as canonical JSON with its SHA-256; reading that copy is logged (`moderation.queue.holds`).

HTTP happens outside any transaction; each source's verdicts commit on their own. Running a
cycle twice at once is harmless: only the transaction that flips `deleted_at_source` first
captures the evidence and drops the words.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import ItemRef, RecheckResult, rechecker_for
from connectors.http import describe_error
from connectors.registry import CONNECTORS, get_connector
from listener.models import (
    AuditEntry,
    Author,
    LegalHold,
    Mention,
    MentionEvidence,
    MentionTopic,
    QueueItem,
    Source,
    Status,
    utcnow,
)
from listener.models.privacy import ERASED_PREFIX
from listener.settings import Settings
from listener.sources.credentials import open_config

log = logging.getLogger(__name__)

#: Queue statuses that still ask something of staff: re-checked whatever their age.
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.ESCALATED, Status.SNOOZED)
#: The audit action recorded when a mention is found gone (the entry holds no content).
AUDIT_ACTION = "deleted_at_source"
SYSTEM_ACTOR = "system"


@dataclass
class RecheckReport:
    """What one cycle did."""

    sources: int = 0
    asked: int = 0
    gone: int = 0
    kept_as_evidence: int = 0
    errors: dict[int, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """The counts, as logs and job results show them."""
        return {
            "sources": self.sources,
            "asked": self.asked,
            "gone": self.gone,
            "kept_as_evidence": self.kept_as_evidence,
            "errors": len(self.errors),
        }


@dataclass(frozen=True)
class SourceBatch:
    """The mentions of one source to ask about in this cycle."""

    source_id: int
    kind: str
    config: dict[str, Any]
    ids_by_external: dict[str, int]
    refs: list[ItemRef]


def recheck_kinds() -> list[str]:
    """The source kinds whose connector can re-check items."""
    return sorted(kind for kind, cls in CONNECTORS.items() if rechecker_for(cls()) is not None)


async def due_batches(
    session: AsyncSession, *, settings: Settings, now: datetime
) -> list[SourceBatch]:
    """Per source, the mentions to ask about now (sources in random order, for fairness)."""
    sources = list(
        await session.execute(
            select(Source.id, Source.kind, Source.config).where(
                Source.enabled.is_(True),
                Source.paused_reason.is_(None),
                Source.kind.in_(recheck_kinds()),
            )
        )
    )
    random.shuffle(sources)
    since = now - timedelta(days=settings.recheck_window_days)
    stale = now - timedelta(minutes=settings.recheck_interval_minutes)
    budget = settings.recheck_per_cycle
    batches: list[SourceBatch] = []
    for source_id, kind, config in sources:
        if budget <= 0:
            break
        rows = await session.execute(
            select(Mention.id, Mention.external_id, Mention.url, Mention.raw)
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .where(
                Mention.source_id == source_id,
                Mention.deleted_at_source.is_(None),
                # An erased person's tombstones have no platform id left to ask about.
                Mention.external_id.not_like(f"{ERASED_PREFIX}%"),
                or_(Mention.source_checked_at.is_(None), Mention.source_checked_at < stale),
                or_(
                    Mention.created_at >= since,
                    QueueItem.status.in_([s.value for s in OPEN_STATUSES]),
                ),
            )
            .order_by(Mention.source_checked_at.asc().nulls_first(), Mention.created_at.desc())
            .limit(min(settings.recheck_per_source, budget))
        )
        found = list(rows)
        if not found:
            continue
        budget -= len(found)
        batches.append(
            SourceBatch(
                source_id=source_id,
                kind=kind,
                config=dict(config or {}),
                ids_by_external={row.external_id: row.id for row in found},
                refs=[ItemRef(row.external_id, row.url, row.raw or {}) for row in found],
            )
        )
    return batches


def evidence_payload(mention: Mention, author: Author | None) -> str:
    """The mention's content as canonical JSON: sorted keys, no spaces, UTF-8 as is."""
    content: dict[str, Any] = {
        "mention_id": mention.id,
        "source_id": mention.source_id,
        "platform": mention.platform,
        "external_id": mention.external_id,
        "url": mention.url,
        "created_at": mention.created_at.isoformat(),
        "fetched_at": mention.fetched_at.isoformat(),
        "text": mention.text,
        "html": mention.html,
        "raw": mention.raw,
        "author": None
        if author is None
        else {
            "platform_id": author.platform_id,
            "handle": author.handle,
            "display_name": author.display_name,
            "profile_url": author.profile_url,
        },
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(payload: str) -> str:
    """The SHA-256 of a payload's UTF-8 bytes, as evidence rows keep it."""
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


async def held_mention_ids(session: AsyncSession, mention_ids: Sequence[int]) -> dict[int, int]:
    """The mentions among `mention_ids` under an active legal hold, with the newest hold's id."""
    if not mention_ids:
        return {}
    rows = await session.execute(
        select(LegalHold.mention_id, LegalHold.id)
        .where(LegalHold.mention_id.in_(list(mention_ids)), LegalHold.lifted_at.is_(None))
        .order_by(LegalHold.id)
    )
    return {mention_id: hold_id for mention_id, hold_id in rows}


async def mark_gone(
    session: AsyncSession, *, mention_ids: Sequence[int], now: datetime
) -> tuple[list[int], int]:
    """Hide the mentions and drop their words; held ones first keep an evidence copy.

    Returns the ids this call marked (those already gone are skipped) and how many copies it
    kept. Flushes, never commits.
    """
    if not mention_ids:
        return [], 0
    claimed = list(
        (
            await session.execute(
                update(Mention)
                .where(Mention.id.in_(list(mention_ids)), Mention.deleted_at_source.is_(None))
                .values(deleted_at_source=now)
                .returning(Mention.id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    if not claimed:
        return [], 0
    holds = await held_mention_ids(session, claimed)
    evidence_ids: dict[int, int] = {}
    if holds:
        rows = await session.execute(
            select(Mention, Author)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(Mention.id.in_(list(holds)))
            .execution_options(populate_existing=True)
        )
        for mention, author in rows:
            payload = evidence_payload(mention, author)
            evidence = MentionEvidence(
                mention_id=mention.id,
                hold_id=holds[mention.id],
                captured_at=now,
                payload=payload,
                sha256=sha256_hex(payload),
            )
            session.add(evidence)
            await session.flush()
            evidence_ids[mention.id] = evidence.id
    await session.execute(
        update(Mention)
        .where(Mention.id.in_(claimed))
        .values(text="", html=None, raw=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # Topic links stay (counts by topic do not change); the matched words go.
    await session.execute(
        update(MentionTopic)
        .where(MentionTopic.mention_id.in_(claimed))
        .values(spans=[])
        .execution_options(synchronize_session=False)
    )
    for mention_id in claimed:
        after: dict[str, Any] = {"held": mention_id in holds}
        if mention_id in evidence_ids:
            after["evidence_id"] = evidence_ids[mention_id]
        session.add(
            AuditEntry(
                mention_id=mention_id,
                entity="mention",
                entity_id=str(mention_id),
                action=AUDIT_ACTION,
                actor=SYSTEM_ACTOR,
                after=after,
            )
        )
    await session.flush()
    return claimed, len(evidence_ids)


async def record_verdicts(
    session: AsyncSession, *, batch: SourceBatch, result: RecheckResult, now: datetime
) -> tuple[list[int], int]:
    """Note that the batch was asked about, and act on the gone ones; flushes, never commits."""
    await session.execute(
        update(Mention)
        .where(Mention.id.in_(list(batch.ids_by_external.values())))
        .values(source_checked_at=now)
        .execution_options(synchronize_session=False)
    )
    gone = [batch.ids_by_external[e] for e in result.gone if e in batch.ids_by_external]
    return await mark_gone(session, mention_ids=gone, now=now)


async def _ask(
    batch: SourceBatch, *, settings: Settings, client: httpx.AsyncClient, seconds: float
) -> RecheckResult:
    """The connector's verdicts; any failure becomes an error with nothing decided."""
    connector = get_connector(batch.kind)
    rechecker = rechecker_for(connector)
    if rechecker is None:
        return RecheckResult(error=f"{batch.kind} sources cannot be re-checked")
    try:
        config = open_config(connector.config_model, batch.config, key=settings.secret_bytes())
        async with asyncio.timeout(seconds):
            return await rechecker.recheck(client=client, config=config, refs=batch.refs)
    except TimeoutError:
        return RecheckResult(error=f"no answer within the cycle's remaining {seconds:.0f} s")
    except Exception as exc:  # one source's failure must never stop the others
        return RecheckResult(error=describe_error(exc))


async def recheck_sources(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    client: httpx.AsyncClient,
    budget_seconds: float = 200.0,
) -> RecheckReport:
    """One re-check cycle over every source that can re-check; never raises for a source."""
    report = RecheckReport()
    if not settings.recheck_enabled:
        return report
    started = time.monotonic()
    async with sessions() as session:
        batches = await due_batches(session, settings=settings, now=utcnow())
    for batch in batches:
        remaining = budget_seconds - (time.monotonic() - started)
        if remaining <= 1:
            break  # the rest were not asked: they come first next cycle
        result = await _ask(batch, settings=settings, client=client, seconds=remaining)
        async with sessions() as session, session.begin():
            gone, kept = await record_verdicts(session, batch=batch, result=result, now=utcnow())
        report.sources += 1
        report.asked += len(batch.refs)
        report.gone += len(gone)
        report.kept_as_evidence += kept
        if result.error:
            report.errors[batch.source_id] = result.error
            log.warning("re-check of source %s incomplete: %s", batch.source_id, result.error)
    log.info("re-checked mentions at their sources: %s", report.counts())
    return report

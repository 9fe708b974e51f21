"""Retention per data class, each off unless configured (`LUISTER_RETENTION_*`).

- raw payloads and HTML: `retention_raw_days` after a post was written, a mention's `raw` and
  `html` are dropped (its plain text stays: search, the digest's terms and the queue read it);
  quarantined items, which are raw payloads too, are deleted after the same time;
- authors: `retention_author_days` after the last mention of a person (all linked identities),
  the person is pseudonymised exactly as erasure does it, without suppressing their future
  posts (they did not ask; only re-fetched copies of the erased posts are dropped);
- audit: entries older than `retention_audit_years` are cut from the start of the chain, which
  keeps a checkpoint (moderation.privacy.chain).

Nothing here deletes a row a digest counts: mentions stay as tombstones and keep their time,
source, language, sentiment and topics, so a digest built again for a past week gives the same
totals. Only audit entries older than the audit horizon go (at least a year): a digest of a
week before that, built again, no longer has the response times of that week (the stored one
keeps them). Mentions under an active legal hold are left alone.

Every class works in bounded batches, each its own transaction, and only on what is still due:
running it again, or twice at once, is harmless, and a run with nothing due costs a few index
lookups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Author, LegalHold, Mention, QuarantinedItem, utcnow
from listener.models.privacy import ERASED_PREFIX
from listener.settings import Settings
from moderation.privacy.chain import prune_audit
from moderation.privacy.service import erase_person, person_group

BATCH = 500
RETENTION_ACTOR = "retention"


@dataclass
class RetentionReport:
    """What one retention run did."""

    raw_dropped: int = 0
    quarantine_deleted: int = 0
    authors_pseudonymised: int = 0
    mentions_erased: int = 0
    audit_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, as the job and the CLI report them."""
        return dict(self.__dict__)


async def drop_raw(
    sessions: async_sessionmaker[AsyncSession], *, before: datetime, batch: int = BATCH
) -> tuple[int, int]:
    """Drop `raw` and `html` of mentions written before `before`; delete old quarantine."""
    dropped = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(Mention.id)
                        .where(
                            Mention.created_at < before,
                            or_(Mention.raw.is_not(None), Mention.html.is_not(None)),
                            ~exists().where(
                                LegalHold.mention_id == Mention.id, LegalHold.lifted_at.is_(None)
                            ),
                        )
                        .order_by(Mention.created_at, Mention.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            if ids:
                # SQL NULL, not JSON null: the row no longer matches the next run's query.
                await session.execute(
                    update(Mention)
                    .where(Mention.id.in_(ids))
                    .values(raw=null(), html=None)
                    .execution_options(synchronize_session=False)
                )
        dropped += len(ids)
        if len(ids) < batch:
            break
    quarantined = 0
    while True:
        async with sessions() as session, session.begin():
            ids = list(
                (
                    await session.execute(
                        select(QuarantinedItem.id)
                        .where(QuarantinedItem.created_at < before)
                        .order_by(QuarantinedItem.created_at)
                        .limit(batch)
                    )
                ).scalars()
            )
            if ids:
                await session.execute(
                    delete(QuarantinedItem)
                    .where(QuarantinedItem.id.in_(ids))
                    .execution_options(synchronize_session=False)
                )
        quarantined += len(ids)
        if len(ids) < batch:
            break
    return dropped, quarantined


async def _last_heard(session: AsyncSession, group: list[int]) -> datetime | None:
    return (
        await session.execute(
            select(func.max(Mention.created_at)).where(
                Mention.author_id.in_(group), ~Mention.external_id.startswith(ERASED_PREFIX)
            )
        )
    ).scalar_one_or_none()


async def pseudonymise_quiet_authors(
    sessions: async_sessionmaker[AsyncSession],
    *,
    before: datetime,
    secret: bytes,
    batch: int = BATCH,
) -> tuple[int, int]:
    """Pseudonymise every person (with linked identities) not heard from since `before`."""
    authors = mentions = 0
    after_id = 0
    while True:
        async with sessions() as session:
            candidates = list(
                (
                    await session.execute(
                        select(Author.id)
                        .where(
                            Author.id > after_id,
                            ~Author.platform_id.startswith(ERASED_PREFIX),
                            Author.first_seen_at < before,
                            ~exists().where(
                                Mention.author_id == Author.id, Mention.created_at >= before
                            ),
                        )
                        .order_by(Author.id)
                        .limit(batch)
                    )
                ).scalars()
            )
        for author_id in candidates:
            async with sessions() as session, session.begin():
                identities = await _live_group(session, author_id)
                if identities is None:
                    continue
                last = await _last_heard(session, identities)
                if last is not None and last >= before:
                    continue  # a linked identity spoke recently: the person is still around
                report = await erase_person(
                    session,
                    author_id=author_id,
                    secret=secret,
                    actor=None,
                    actor_label=RETENTION_ACTOR,
                    reason="retention",
                    suppress_authors=False,
                )
                authors += report.authors
                mentions += report.mentions
        if len(candidates) < batch:
            return authors, mentions
        after_id = candidates[-1]


async def _live_group(session: AsyncSession, author_id: int) -> list[int] | None:
    author = await session.get(Author, author_id)
    if author is None or author.platform_id.startswith(ERASED_PREFIX):
        return None  # erased meanwhile, with a linked identity or by a colleague
    return [a.id for a in await person_group(session, author_id=author_id)]


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    now: datetime | None = None,
) -> RetentionReport:
    """Apply every configured retention rule once, as of `now`."""
    now = now or utcnow()
    report = RetentionReport()
    if settings.retention_raw_days is not None:
        before = now - timedelta(days=settings.retention_raw_days)
        report.raw_dropped, report.quarantine_deleted = await drop_raw(sessions, before=before)
    if settings.retention_author_days is not None:
        before = now - timedelta(days=settings.retention_author_days)
        report.authors_pseudonymised, report.mentions_erased = await pseudonymise_quiet_authors(
            sessions, before=before, secret=settings.secret_bytes()
        )
    if settings.retention_audit_years is not None:
        before = now - timedelta(days=round(365.25 * settings.retention_audit_years))
        async with sessions() as session, session.begin():
            pruned = await prune_audit(session, before=before, actor_label=RETENTION_ACTOR)
        report.audit_deleted = pruned.deleted
    return report

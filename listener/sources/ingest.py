"""Idempotent bulk ingest: connectors and importers hand mentions in, the queue gets them once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.items import MentionIn
from listener.kit import describe_validation_error
from listener.models import Author, Mention, QuarantinedItem, QueueItem, Source, utcnow
from listener.nlp.store import BatchTags, store_ingested_tags, tag_pending
from listener.reactions import mentions_changed


@dataclass(frozen=True)
class Rejection:
    """An item that was not stored: its position in the batch and why."""

    index: int
    reason: str


@dataclass
class IngestReport:
    """What one ingest did; `rejected` items are in quarantine."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    new_mention_ids: list[int] = field(default_factory=list)
    updated_mention_ids: list[int] = field(default_factory=list)

    def add(self, other: IngestReport, *, index_offset: int = 0) -> None:
        """Fold another report into this one (rejection indexes shifted by `index_offset`)."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected
        self.rejections += [Rejection(r.index + index_offset, r.reason) for r in other.rejections]
        self.new_mention_ids += other.new_mention_ids
        self.updated_mention_ids += other.updated_mention_ids

    def counts(self) -> dict[str, int]:
        """The four counts, as scripts read them."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


def mention_fingerprint(item: MentionIn) -> str:
    """A hash of everything that, when it changes, makes a stored mention 'updated'."""
    author = item.author.model_dump(mode="json") if item.author else None
    material = [
        item.text,
        item.html,
        str(item.url) if item.url else None,
        item.language,
        item.created_at.isoformat(),
        item.reply_to_external_id,
        item.thread_external_id,
        item.engagement.model_dump(),
        author,
    ]
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _insert(session: AsyncSession, table: Any) -> Any:
    # ON CONFLICT lives in the dialects; both spell it the same way.
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def quarantine_item(
    session: AsyncSession,
    *,
    source_id: int | None,
    stage: str,
    payload: Any,
    error: str,
    external_id: str | None = None,
) -> None:
    """Keep an item that could not be ingested, with the reason, for staff to inspect."""
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    session.add(
        QuarantinedItem(
            source_id=source_id, stage=stage, payload=text, error=error, external_id=external_id
        )
    )


async def source_for_name(session: AsyncSession, *, name: str, kind: str) -> int:
    """The id of the source called `name`, created (kind `kind`) if it does not exist."""
    stmt = _insert(session, Source).values(
        name=name, kind=kind, config={}, cursor={}, enabled=False
    )
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    return (await session.execute(select(Source.id).where(Source.name == name))).scalar_one()


async def _author_ids(
    session: AsyncSession, items: Sequence[MentionIn]
) -> dict[tuple[str, str], int]:
    """Link each item's author to a row: create the missing, refresh the changed."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        if item.author is not None:
            wanted[(item.platform, item.author.platform_id)] = {
                "platform": item.platform,
                "platform_id": item.author.platform_id,
                "handle": item.author.handle,
                "display_name": item.author.display_name,
                "profile_url": str(item.author.profile_url) if item.author.profile_url else None,
                "followers": item.author.followers,
            }
    ids: dict[tuple[str, str], int] = {}
    changed: list[dict[str, Any]] = []
    by_platform: dict[str, list[str]] = {}
    for platform, platform_id in wanted:
        by_platform.setdefault(platform, []).append(platform_id)
    for platform, platform_ids in by_platform.items():
        rows = await session.execute(
            select(
                Author.id,
                Author.platform_id,
                Author.handle,
                Author.display_name,
                Author.profile_url,
                Author.followers,
            ).where(Author.platform == platform, Author.platform_id.in_(platform_ids))
        )
        for row in rows:
            key = (platform, row.platform_id)
            ids[key] = row.id
            fresh = wanted[key]
            known = (row.handle, row.display_name, row.profile_url, row.followers)
            incoming = (
                fresh["handle"],
                fresh["display_name"],
                fresh["profile_url"],
                fresh["followers"],
            )
            if known != incoming:
                changed.append({"id": row.id, **_keep_known(fresh, row), "last_seen_at": utcnow()})
    missing = [values for key, values in wanted.items() if key not in ids]
    if missing:
        stmt = _insert(session, Author)
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "platform_id"],
            set_={"last_seen_at": stmt.excluded.last_seen_at},
        ).returning(Author.id, Author.platform, Author.platform_id)
        now = utcnow()
        rows = await session.execute(
            stmt, [{**values, "first_seen_at": now, "last_seen_at": now} for values in missing]
        )
        for row in rows:
            ids[(row.platform, row.platform_id)] = row.id
    if changed:
        await session.execute(update(Author), changed)
    return ids


_AUTHOR_FIELDS = ("handle", "display_name", "profile_url", "followers")


def _keep_known(fresh: dict[str, Any], row: Any) -> dict[str, Any]:
    # A platform that omits a field (say, follower count) does not erase what we knew.
    return {
        name: fresh[name] if fresh[name] is not None else getattr(row, name)
        for name in _AUTHOR_FIELDS
    }


def _mention_values(item: MentionIn, *, source_id: int, author_id: int | None) -> dict[str, Any]:
    engagement = item.engagement
    return {
        "source_id": source_id,
        "external_id": item.external_id,
        "platform": item.platform,
        "author_id": author_id,
        "url": str(item.url) if item.url else None,
        "text": item.text,
        "html": item.html,
        "language": item.language,
        "created_at": item.created_at,
        "reply_to_external_id": item.reply_to_external_id,
        "thread_external_id": item.thread_external_id,
        "likes": engagement.likes,
        "reposts": engagement.reposts,
        "replies": engagement.replies,
        "score": engagement.score,
        "views": engagement.views,
        "raw": item.raw,
        "fingerprint": mention_fingerprint(item),
    }


async def ingest_mentions(
    session: AsyncSession,
    items: Iterable[MentionIn | Mapping[str, Any]],
    *,
    source_id: int | None = None,
    tag: bool = True,
) -> IngestReport:
    """Store new mentions, refresh known ones, quarantine invalid ones; never commits.

    With `tag` (the default) new and changed mentions are tagged first (language, sentiment,
    intents, topics) by `listener.nlp.store`; staff corrections stay on top.

    With `source_id` every item belongs to that source; otherwise each item's `source`
    name (or `<platform>-import`) picks or creates the source.
    """
    report = IngestReport()
    valid: list[tuple[int, MentionIn]] = []
    for index, raw in enumerate(items):
        if isinstance(raw, MentionIn):
            valid.append((index, raw))
            continue
        try:
            valid.append((index, MentionIn.model_validate(raw)))
        except ValidationError as exc:
            reason = describe_validation_error(exc)
            report.rejected += 1
            report.rejections.append(Rejection(index, reason))
            external_id = raw.get("external_id") if isinstance(raw, Mapping) else None
            await quarantine_item(
                session,
                source_id=source_id,
                stage="validation",
                payload=raw,
                error=reason,
                external_id=str(external_id) if external_id is not None else None,
            )
    if not valid:
        return report

    source_ids: dict[str, int] = {}
    # Later copies of the same post in one batch win; earlier ones count as unchanged.
    keyed: dict[tuple[int, str], MentionIn] = {}
    first_source: dict[tuple[str, str], int] = {}  # platform-wide ids: the first source keeps it
    for _, item in valid:
        if source_id is not None:
            sid = source_id
        else:
            name = item.source or f"{item.platform}-import"
            if name not in source_ids:
                source_ids[name] = await source_for_name(session, name=name, kind=item.platform)
            sid = source_ids[name]
        if item.platform in GLOBAL_ID_PLATFORMS:
            sid = first_source.setdefault((item.platform, item.external_id), sid)
        if (sid, item.external_id) in keyed:
            report.unchanged += 1
        keyed[(sid, item.external_id)] = item

    known = await _known_mentions(session, keyed)
    pending: dict[tuple[int, str], tuple[MentionIn, str]] = {}
    for key, item in keyed.items():
        fingerprint = mention_fingerprint(item)
        if key in known and known[key][1] == fingerprint:
            report.unchanged += 1  # the fast path of a re-poll: nothing to write
        else:
            pending[key] = (item, fingerprint)
    if pending:
        author_ids = await _author_ids(session, [item for item, _ in pending.values()])
        tags = await tag_pending(session, pending, known) if tag else None
        await _store_mentions(session, pending, known, author_ids, report, tags)
        if tags is not None:
            await store_ingested_tags(session, tags, known=known, new_ids=report.new_mention_ids)
        # Registered reactions (priority, snooze wake-ups) see the batch in this transaction.
        await mentions_changed(
            session, new_ids=report.new_mention_ids, updated_ids=report.updated_mention_ids
        )
    return report


# Platforms whose ids are unique platform-wide (status URIs, at:// URIs, fullnames, HN ids):
# the same post heard through two sources (say, two Mastodon instances) is stored once.
GLOBAL_ID_PLATFORMS = frozenset({"mastodon", "bluesky", "reddit", "hackernews"})


async def _known_mentions(
    session: AsyncSession, keyed: dict[tuple[int, str], MentionIn]
) -> dict[tuple[int, str], tuple[int, str]]:
    """Id and fingerprint of the stored mentions among `keyed` (across sources where ids are
    platform-wide)."""
    by_source: dict[int, list[str]] = {}
    by_platform: dict[str, dict[str, list[int]]] = {}
    for (sid, external_id), item in keyed.items():
        if item.platform in GLOBAL_ID_PLATFORMS:
            by_platform.setdefault(item.platform, {}).setdefault(external_id, []).append(sid)
        else:
            by_source.setdefault(sid, []).append(external_id)
    known: dict[tuple[int, str], tuple[int, str]] = {}
    for sid, external_ids in by_source.items():
        rows = await session.execute(
            select(Mention.id, Mention.external_id, Mention.fingerprint).where(
                Mention.source_id == sid, Mention.external_id.in_(external_ids)
            )
        )
        for row in rows:
            known[(sid, row.external_id)] = (row.id, row.fingerprint)
    for platform, sources_by_id in by_platform.items():
        rows = await session.execute(
            select(Mention.id, Mention.external_id, Mention.fingerprint)
            .where(Mention.platform == platform, Mention.external_id.in_(list(sources_by_id)))
            .order_by(Mention.id)
        )
        for row in rows:
            for sid in sources_by_id[row.external_id]:
                known.setdefault((sid, row.external_id), (row.id, row.fingerprint))
    return known


async def _store_mentions(
    session: AsyncSession,
    pending: dict[tuple[int, str], tuple[MentionIn, str]],
    known: dict[tuple[int, str], tuple[int, str]],
    author_ids: dict[tuple[str, str], int],
    report: IngestReport,
    tags: BatchTags | None = None,
) -> None:
    """Insert the new mentions (and their queue items) and update the changed ones."""
    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    now = utcnow()
    for (sid, external_id), (item, fingerprint) in pending.items():
        author = item.author
        author_id = author_ids.get((item.platform, author.platform_id)) if author else None
        values = _mention_values(item, source_id=sid, author_id=author_id)
        values["fingerprint"] = fingerprint
        if tags is not None:
            values.update(tags.columns[(sid, external_id)])
        if (sid, external_id) in known:
            values.pop("source_id")
            values.pop("external_id")
            changed.append(
                {"id": known[(sid, external_id)][0], **values, "fetched_at": now, "updated_at": now}
            )
        else:
            fresh.append({"intents": [], **values, "fetched_at": now, "updated_at": now})
    if changed:
        await session.execute(update(Mention), changed)
        report.updated += len(changed)
        report.updated_mention_ids += [values["id"] for values in changed]
    if fresh:
        stmt = _insert(session, Mention).on_conflict_do_nothing(
            index_elements=["source_id", "external_id"]
        )
        rows = (await session.execute(stmt.returning(Mention.id), fresh)).scalars().all()
        # A concurrent ingest may have stored some first; those count as unchanged here.
        report.new += len(rows)
        report.unchanged += len(fresh) - len(rows)
        report.new_mention_ids += rows
        if rows:
            await session.execute(
                _insert(session, QueueItem),
                [{"mention_id": mid, "status_changed_at": now, "updated_at": now} for mid in rows],
            )

"""Idempotent bulk ingest: connectors and importers hand mentions in, the queue gets them once.

This is the one boundary text crosses on its way to the database. `MentionIn` strips what no
column can hold (NUL, unpaired surrogates) and rejects ids holding it, counts beyond the integer
columns and strings longer than theirs; a rejected item goes to quarantine with the field named.
Should the database still refuse an item, the batch is retried item by item, each in its own
savepoint, and only the refused item is quarantined. The quarantine write itself stores a
cleaned, bounded copy, so the poison that got an item refused cannot refuse its quarantine.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import String, func, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.items import MentionIn, storable_json, storable_text
from listener import metrics
from listener.kit import describe_validation_error
from listener.kit.folding import folded_text
from listener.models import Author, Mention, QuarantinedItem, QueueItem, Source, utcnow
from listener.nlp.store import BatchTags, start_tagging, store_ingested_tags
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


def _among(session: AsyncSession, stmt: Any, column: Any, values: Iterable[str]) -> Any:
    """`stmt` narrowed to the rows whose `column` is one of `values`.

    On PostgreSQL the values travel as one array parameter, joined as a table (`unnest`): one
    statement text whatever the batch size, and a plan that probes the column's index once
    per value. (`column = ANY(array)` under a generic plan compares every row it scans with
    the whole array; `IN (...)` makes a new statement for every count of values.)
    """
    values = sorted(values)
    if session.get_bind().dialect.name == "postgresql":
        array = literal(values, postgresql.ARRAY(String))
        wanted = func.unnest(array).table_valued("value").render_derived()
        return stmt.join(wanted, column == wanted.c.value)
    return stmt.where(column.in_(values))


def _insert(session: AsyncSession, table: Any) -> Any:
    # ON CONFLICT lives in the dialects; both spell it the same way.
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


# Bounds of a quarantine row: the payload is evidence, not an archive.
MAX_QUARANTINE_PAYLOAD = 1_000_000
MAX_QUARANTINE_ERROR = 2_000
_EXTERNAL_ID_LENGTH = 512  # quarantine.external_id, as mentions.external_id


def _bounded(text: str, limit: int) -> str:
    text = storable_text(text)
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit:,} more]"


def _payload_text(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    try:
        return json.dumps(storable_json(payload), default=str, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError):
        return repr(payload)[:MAX_QUARANTINE_PAYLOAD]


async def quarantine_item(
    session: AsyncSession,
    *,
    source_id: int | None,
    stage: str,
    payload: Any,
    error: str,
    external_id: str | None = None,
) -> None:
    """Keep an item that could not be ingested, with the reason, for staff to inspect.

    What is kept is cleaned and bounded (no NUL or lone surrogate, the id cut to its column),
    so the poison that got an item refused never fails its quarantine too.
    """
    short_id = storable_text(external_id)[:_EXTERNAL_ID_LENGTH] if external_id else None
    session.add(
        QuarantinedItem(
            source_id=source_id,
            stage=stage,
            payload=_bounded(_payload_text(payload), MAX_QUARANTINE_PAYLOAD),
            error=_bounded(error, MAX_QUARANTINE_ERROR),
            external_id=short_id or None,
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
    if wanted:
        # One round trip for the whole batch, whatever the platforms; pairs are matched here.
        stmt = select(
            Author.id,
            Author.platform,
            Author.platform_id,
            Author.handle,
            Author.display_name,
            Author.profile_url,
            Author.followers,
        ).where(Author.platform.in_(sorted({platform for platform, _ in wanted})))
        rows = await session.execute(
            _among(session, stmt, Author.platform_id, {pid for _, pid in wanted})
        )
        for row in rows:
            key = (row.platform, row.platform_id)
            if key not in wanted:
                continue
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
    if missing and session.get_bind().dialect.name == "postgresql":
        now = utcnow()
        rows = await session.execute(
            _UPSERT_AUTHORS,
            {name: [values[name] for values in missing] for name in _UPSERTED}
            | {"first_seen_ats": [now] * len(missing)},
        )
        for row in rows:
            ids[(row.platform, row.platform_id)] = row.id
    elif missing:
        stmt = _insert(session, Author)
        stmt = stmt.on_conflict_do_update(
            index_elements=["platform", "platform_id"],
            set_={"last_seen_at": stmt.excluded.last_seen_at},
        ).returning(Author.id, Author.platform, Author.platform_id)
        now = utcnow()
        # Core, not the ORM's bulk path: the same statement, without per-row ORM bookkeeping.
        conn = await session.connection()
        rows = await conn.execute(
            stmt, [{**values, "first_seen_at": now, "last_seen_at": now} for values in missing]
        )
        for row in rows:
            ids[(row.platform, row.platform_id)] = row.id
    if changed:
        await session.execute(update(Author), changed)
    return ids


_AUTHOR_FIELDS = ("handle", "display_name", "profile_url", "followers")

_UPSERTED = ("platform", "platform_id", "handle", "display_name", "profile_url", "followers")

# PostgreSQL: the batch's new authors in one statement, their values travelling as arrays
# (an executemany INSERT renders and binds every row's parameters). As the Core path: an author
# a concurrent ingest created first only has `last_seen_at` refreshed, and its id comes back.
_UPSERT_AUTHORS = text(
    "INSERT INTO authors (platform, platform_id, handle, display_name, profile_url, followers, "
    "first_seen_at, last_seen_at) "
    "SELECT a.platform, a.platform_id, a.handle, a.display_name, a.profile_url, a.followers, "
    "a.seen, a.seen "
    "FROM unnest(CAST(:platform AS VARCHAR[]), CAST(:platform_id AS VARCHAR[]), "
    "CAST(:handle AS VARCHAR[]), CAST(:display_name AS VARCHAR[]), "
    "CAST(:profile_url AS TEXT[]), CAST(:followers AS INTEGER[]), "
    "CAST(:first_seen_ats AS TIMESTAMPTZ[])) "
    "AS a(platform, platform_id, handle, display_name, profile_url, followers, seen) "
    "ON CONFLICT (platform, platform_id) DO UPDATE SET last_seen_at = excluded.last_seen_at "
    "RETURNING id, platform, platform_id"
)


def _keep_known(fresh: dict[str, Any], row: Any) -> dict[str, Any]:
    # A platform that omits a field (say, follower count) does not erase what we knew.
    return {
        name: fresh[name] if fresh[name] is not None else getattr(row, name)
        for name in _AUTHOR_FIELDS
    }


def _mention_values(
    item: MentionIn,
    *,
    source_id: int,
    author_id: int | None,
    fingerprint: str | None = None,
    folded: str | None = None,
) -> dict[str, Any]:
    engagement = item.engagement
    return {
        "source_id": source_id,
        "external_id": item.external_id,
        "platform": item.platform,
        "author_id": author_id,
        "url": str(item.url) if item.url else None,
        "text": item.text,
        "folded_text": folded if folded is not None else folded_text(item.text),
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
        "fingerprint": fingerprint or mention_fingerprint(item),
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
        metrics.record_ingest(report)
        return report
    # Quarantine rows so far must not ride in (and be rolled back with) the batch's savepoint.
    await session.flush()
    try:
        async with session.begin_nested():
            stored = await _store_batch(session, valid, source_id=source_id, tag=tag)
    except _STORE_ERRORS as exc:
        if _not_the_items_fault(exc):
            raise
        stored = await _store_one_by_one(session, valid, source_id=source_id, tag=tag)
    report.add(stored)
    metrics.record_ingest(report)
    return report


# What storing a bad item can raise: database refusals, and driver errors while binding values.
_STORE_ERRORS = (SQLAlchemyError, ValueError, OverflowError, UnicodeError)


def _not_the_items_fault(exc: BaseException) -> bool:
    """A lost connection or a lock timeout: retrying item by item would only fail again."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def describe_store_error(exc: BaseException) -> str:
    """The database's reason in one line, without the SQL statement."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    # SQLAlchemy's asyncpg adapter wraps the driver's error: name the driver's.
    named = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    lines = str(exc).strip().splitlines()
    return f"{type(named).__name__}: {lines[0] if lines else 'refused'}"[:500]


async def _store_one_by_one(
    session: AsyncSession,
    valid: list[tuple[int, MentionIn]],
    *,
    source_id: int | None,
    tag: bool,
) -> IngestReport:
    """The batch failed: store each item in its own savepoint; quarantine the ones refused."""
    report = IngestReport()
    for index, item in valid:
        try:
            async with session.begin_nested():
                one = await _store_batch(session, [(index, item)], source_id=source_id, tag=tag)
        except _STORE_ERRORS as exc:
            if _not_the_items_fault(exc):
                raise
            reason = f"the database refused it: {describe_store_error(exc)}"
            report.rejected += 1
            report.rejections.append(Rejection(index, reason))
            await quarantine_item(
                session,
                source_id=source_id,
                stage="store",
                payload=_item_payload(item),
                error=reason,
                external_id=item.external_id,
            )
            await session.flush()
            continue
        report.add(one)
    return report


def _item_payload(item: MentionIn) -> Any:
    try:
        return item.model_dump(mode="json")
    except Exception:  # an item built without validation may not serialise: keep its repr
        return repr(item)


async def _store_batch(
    session: AsyncSession,
    valid: list[tuple[int, MentionIn]],
    *,
    source_id: int | None,
    tag: bool,
) -> IngestReport:
    """Store validated items: upsert mentions, authors and tags, then run the reactions."""
    report = IngestReport()
    source_ids: dict[str, int] = {}
    if source_id is None and session.get_bind().dialect.name == "postgresql":
        # The batch's sources in one round trip. Not on SQLite: there a transaction that reads
        # before it writes cannot wait for a concurrent writer, so its first statement stays
        # source_for_name's INSERT, which takes the write lock.
        names = {item.source or f"{item.platform}-import" for _, item in valid}
        rows = await session.execute(select(Source.name, Source.id).where(Source.name.in_(names)))
        source_ids.update({name: sid for name, sid in rows})
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

    # The hashing and folding run in a worker thread while this task waits on the database
    # for the stored copies and the authors, so the two overlap instead of adding up.
    hashing = _in_thread(lambda: [mention_fingerprint(item) for item in keyed.values()], len(keyed))
    try:
        known = await _known_mentions(session, keyed)
    except BaseException:
        hashing.cancel()
        raise
    pending: dict[tuple[int, str], tuple[MentionIn, str]] = {}
    for (key, item), fingerprint in zip(keyed.items(), await hashing, strict=True):
        if key in known and known[key][1] in (fingerprint, GONE_AT_SOURCE):
            report.unchanged += 1  # the fast path of a re-poll: nothing to write
        else:
            pending[key] = (item, fingerprint)
    if pending:
        folding = _in_thread(
            lambda: [folded_text(item.text) for item, _ in pending.values()], len(pending)
        )
        try:
            author_ids, tags = await _authors_and_tags(session, pending, known, tag=tag)
        except BaseException:
            folding.cancel()
            raise
        folded = dict(zip(pending, await folding, strict=True))
        stored = await _store_mentions(session, pending, known, author_ids, report, tags, folded)
        if tags is not None:
            await store_ingested_tags(session, tags, known=known, new=stored)
        # Registered reactions (priority, snooze wake-ups) see the batch in this transaction.
        await mentions_changed(
            session, new_ids=report.new_mention_ids, updated_ids=report.updated_mention_ids
        )
    return report


def _in_thread(work: Callable[[], list[str]], size: int) -> asyncio.Future[list[str]]:
    """Start `work` in a worker thread now (done at once when `size` is small): await it."""
    if size < COPY_FROM:  # a thread would cost more than it saves
        done: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
        done.set_result(work())
        return done
    return asyncio.ensure_future(asyncio.to_thread(work))


async def _authors_and_tags(
    session: AsyncSession,
    pending: dict[tuple[int, str], tuple[MentionIn, str]],
    known: dict[tuple[int, str], tuple[int, str]],
    *,
    tag: bool,
) -> tuple[dict[tuple[str, str], int], BatchTags | None]:
    """Link the authors while the batch is tagged in a worker thread; return both."""
    # spaCy runs in its thread while this task waits on the database for the authors, so
    # the two overlap instead of adding up, and the event loop never runs the NLP itself.
    job = await start_tagging(session, pending, known) if tag else None
    try:
        author_ids = await _author_ids(session, [item for item, _ in pending.values()])
    except BaseException:
        if job is not None:
            job.abandon()
        raise
    return author_ids, (await job.result() if job is not None else None)


# Platforms whose ids are unique platform-wide (status URIs, at:// URIs, fullnames, HN ids):
# the same post heard through two sources (say, two Mastodon instances) is stored once.
GLOBAL_ID_PLATFORMS = frozenset({"mastodon", "bluesky", "reddit", "hackernews"})


#: Stands for the fingerprint of a mention deleted at its source: a re-poll that still serves a
#: copy (a Reddit "[removed]" husk, a cached page) never writes its words back.
GONE_AT_SOURCE = "gone-at-source"


def _fingerprint(row: Any) -> str:
    return GONE_AT_SOURCE if row.deleted_at_source is not None else str(row.fingerprint)


async def _known_mentions(
    session: AsyncSession, keyed: dict[tuple[int, str], MentionIn]
) -> dict[tuple[int, str], tuple[int, str]]:
    """Id and fingerprint of the stored mentions among `keyed` (across sources where ids are
    platform-wide)."""
    by_source: dict[int, set[str]] = {}
    by_platform: dict[str, dict[str, list[int]]] = {}
    for (sid, external_id), item in keyed.items():
        if item.platform in GLOBAL_ID_PLATFORMS:
            by_platform.setdefault(item.platform, {}).setdefault(external_id, []).append(sid)
        else:
            by_source.setdefault(sid, set()).add(external_id)
    known: dict[tuple[int, str], tuple[int, str]] = {}
    # One round trip per batch: every stored mention with one of these ids, in id order (the
    # first stored copy of a platform-wide id wins), matched to the batch's keys here.
    stmt = select(
        Mention.id,
        Mention.source_id,
        Mention.platform,
        Mention.external_id,
        Mention.fingerprint,
        Mention.deleted_at_source,
    ).order_by(Mention.id)
    rows = await session.execute(
        _among(session, stmt, Mention.external_id, {eid for _, eid in keyed})
    )
    for row in rows:
        if row.external_id in by_source.get(row.source_id, ()):
            known[(row.source_id, row.external_id)] = (row.id, _fingerprint(row))
        for sid in by_platform.get(row.platform, {}).get(row.external_id, ()):
            known.setdefault((sid, row.external_id), (row.id, _fingerprint(row)))
    return known


async def _store_mentions(
    session: AsyncSession,
    pending: dict[tuple[int, str], tuple[MentionIn, str]],
    known: dict[tuple[int, str], tuple[int, str]],
    author_ids: dict[tuple[str, str], int],
    report: IngestReport,
    tags: BatchTags | None = None,
    folded: Mapping[tuple[int, str], str] | None = None,
) -> dict[tuple[int, str], int]:
    """Insert the new mentions (and their queue items) and update the changed ones; the new
    mentions' ids by key."""
    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    now = utcnow()
    for (sid, external_id), (item, fingerprint) in pending.items():
        author = item.author
        author_id = author_ids.get((item.platform, author.platform_id)) if author else None
        values = _mention_values(item, source_id=sid, author_id=author_id, fingerprint=fingerprint)
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
    if not fresh:
        return {}
    rows = await _copy_new_mentions(session, fresh, now)
    if rows is None:
        rows = await _insert_new_mentions(session, fresh, now)
    # A concurrent ingest may have stored some first; those count as unchanged here.
    report.new += len(rows)
    report.unchanged += len(fresh) - len(rows)
    report.new_mention_ids += rows.values()
    return rows


async def _insert_new_mentions(
    session: AsyncSession, fresh: list[dict[str, Any]], now: datetime
) -> dict[tuple[int, str], int]:
    """INSERT … ON CONFLICT DO NOTHING the new mentions and queue their items; the new ids,
    by key (a row a concurrent ingest stored first comes back from neither)."""
    stmt = _insert(session, Mention).on_conflict_do_nothing(
        index_elements=["source_id", "external_id"]
    )
    conn = await session.connection()  # Core: see _author_ids
    returned = await conn.execute(
        stmt.returning(Mention.id, Mention.source_id, Mention.external_id), fresh
    )
    rows = {(row.source_id, row.external_id): row.id for row in returned}
    if rows:
        await conn.execute(
            _insert(session, QueueItem),
            [
                {"mention_id": mid, "status_changed_at": now, "updated_at": now}
                for mid in rows.values()
            ],
        )
    return rows


#: From this many new mentions in a batch, PostgreSQL gets them (and their queue items) by COPY.
COPY_FROM = 64


async def _copy_new_mentions(
    session: AsyncSession, fresh: list[dict[str, Any]], now: datetime
) -> dict[tuple[int, str], int] | None:
    """On PostgreSQL, COPY a large batch of new mentions and their queue items: the new ids
    by key.

    COPY is the fast path only. It cannot skip a row a concurrent ingest stored first, so any
    failure (that race, a value the database refuses) rolls back to a savepoint and returns
    None: the caller then runs the INSERT … ON CONFLICT path, which counts, skips or reports
    exactly as before. None as well where COPY does not apply (SQLite, small batches).
    """
    if len(fresh) < COPY_FROM or session.get_bind().dialect.name != "postgresql":
        return None
    conn = await session.connection()
    dialect = conn.dialect
    try:
        async with session.begin_nested():
            ids = sorted(
                (
                    await conn.execute(
                        text(
                            "SELECT nextval(pg_get_serial_sequence('mentions', 'id')) "
                            "FROM generate_series(1, :n)"
                        ),
                        {"n": len(fresh)},
                    )
                ).scalars()
            )
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            mention_rows = [{**values, "id": mid} for values, mid in zip(fresh, ids, strict=True)]
            await _copy_rows(driver, Mention.__table__, mention_rows, dialect)
            queue_rows = [
                {"mention_id": mid, "status_changed_at": now, "updated_at": now} for mid in ids
            ]
            await _copy_rows(driver, QueueItem.__table__, queue_rows, dialect)
    except Exception:
        return None
    return {
        (values["source_id"], values["external_id"]): mid
        for values, mid in zip(fresh, ids, strict=True)
    }


async def _copy_rows(driver: Any, table: Any, rows: list[dict[str, Any]], dialect: Any) -> None:
    """COPY `rows` into `table`: given values and Python-side defaults, bound as Core binds them."""
    given = list(rows[0])
    # Columns the rows leave out get their Python-side default, as Core's INSERT would give.
    defaults = {
        column.name: column.default
        for column in table.columns
        if column.name not in given and column.default is not None
    }
    names = given + list(defaults)
    columns: list[list[Any]] = [[row[name] for row in rows] for name in given]
    columns += [
        [default.arg(None) if default.is_callable else default.arg] * len(rows)
        for default in defaults.values()
    ]
    for name, values in zip(names, columns, strict=True):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            values[:] = _bound(process, values)
    await driver.copy_records_to_table(
        table.name, records=list(zip(*columns, strict=True)), columns=names
    )


def _bound(process: Any, values: list[Any]) -> list[Any]:
    # One conversion per distinct value: a batch shares its timestamps and most of its nulls.
    seen: dict[Any, Any] = {}
    bound: list[Any] = []
    for value in values:
        if value is None:
            bound.append(None)
            continue
        try:
            if value not in seen:
                seen[value] = process(value)
            bound.append(seen[value])
        except TypeError:  # unhashable (a JSON list or object)
            bound.append(process(value))
    return bound

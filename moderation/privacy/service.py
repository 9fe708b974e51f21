"""Erasure and access: what Luister holds about one person, removed or handed over.

A person is an author record and every record staff linked to it (moderation.queue.authors).

Erasure keeps the rows that carry counts and drops everything that says who or what:
- each mention becomes a tombstone: no text, HTML, raw payload, URL, thread or reply ids, and
  its platform id replaced by `erased:<mention id>`; the row keeps its time, source, language,
  sentiment, intents, topic links (without the matched words), engagement counts and queue
  state, so every digest built again for a past week counts the same (volume, sentiment,
  topics, questions, response times, throughput);
- each author record is pseudonymised in place: `platform_id` becomes `erased:<author id>`,
  handle, name, profile URL and followers go; links and notes about the person are deleted;
- notes on their mentions are deleted; our answers keep their time but lose URL and note;
  outbox messages to them still waiting are cancelled, and all of them lose their text;
- quarantined items of theirs are deleted; stored digests, alerts and integration events keep
  their numbers but lose the person's words and names;
- the search index follows the text (PostgreSQL's generated column, SQLite's FTS5 triggers);
- keyed hashes of their posts and accounts are kept (`privacy_suppressions`) so a re-fetched
  copy or a new post of theirs is dropped at ingest (moderation.privacy.reactions);
- one audit entry records who asked, when, for which author and how many of each were erased:
  never the content.

Mentions under an active legal hold are kept (the legal-claims exemption), with the author
record that wrote them; erasing again after the hold is lifted finishes the work. Erasing an
erased person again changes nothing and reports zero counts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, literal, null, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import (
    Alert,
    Appreciation,
    AuditEntry,
    Author,
    AuthorLink,
    AuthorNote,
    Digest,
    IntegrationEvent,
    LegalHold,
    Mention,
    MentionTag,
    MentionTopic,
    Note,
    OutboxMessage,
    OutboxStatus,
    PrivacySuppression,
    QuarantinedItem,
    QueueItem,
    Response,
    Source,
    Tag,
    Topic,
    User,
    utcnow,
)
from listener.models.privacy import ERASED_PREFIX
from moderation.queue import audit
from moderation.queue.authors import identities_of
from moderation.queue.errors import NotFound

ERASURE_ACTION = "privacy.erasure"
ACCESS_ACTION = "privacy.access"
#: Outbox rows that have not started to go out: erasure cancels them.
WAITING_OUTBOX = (
    OutboxStatus.DRAFT.value,
    OutboxStatus.APPROVED.value,
    OutboxStatus.SCHEDULED.value,
    OutboxStatus.FAILED.value,
)
_CHUNK = 500


def suppression_key(secret: bytes, kind: str, platform: str, value: str) -> str:
    """HMAC-SHA256 of a post (`kind` post, its external id) or an account (author, platform id)."""
    message = "\x1f".join((kind, platform, value)).encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def is_erased(author: Author) -> bool:
    """Whether the author record is a pseudonymised stub."""
    return author.platform_id.startswith(ERASED_PREFIX)


@dataclass
class ErasureReport:
    """What one erasure did; only numbers and ids, as the audit log keeps it."""

    author_id: int
    authors: int = 0
    mentions: int = 0
    held_mentions: int = 0
    notes: int = 0
    author_notes: int = 0
    links: int = 0
    outbox_cancelled: int = 0
    outbox_redacted: int = 0
    responses: int = 0
    quarantined: int = 0
    digests: int = 0
    alerts: int = 0
    events: int = 0
    suppressed: int = 0
    identity_ids: list[int] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def already_erased(self) -> bool:
        """Nothing was left to erase (a repeat)."""
        return not any(self.counts().values())

    def counts(self) -> dict[str, int]:
        """The counts only."""
        return {
            k: v for k, v in asdict(self).items() if isinstance(v, int) and k not in _NOT_COUNTS
        }


_NOT_COUNTS = frozenset({"author_id", "audit_id", "held_mentions"})


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


async def _author(session: AsyncSession, author_id: int) -> Author:
    author = await session.get(Author, author_id)
    if author is None:
        raise NotFound(f"author {author_id} does not exist")
    return author


async def person_group(session: AsyncSession, *, author_id: int) -> list[Author]:
    """The author and every record linked to it, lowest id first (404 if it does not exist)."""
    await _author(session, author_id)
    group = (await identities_of(session, author_ids=[author_id]))[author_id]
    rows = await session.execute(
        select(Author)
        .where(Author.id.in_(sorted(group)))
        .order_by(Author.id)
        .execution_options(populate_existing=True)
    )
    return list(rows.scalars())


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _suppress(session: AsyncSession, keys: dict[str, str], now: datetime) -> int:
    if not keys:
        return 0
    stmt = _insert(session, PrivacySuppression).on_conflict_do_nothing(index_elements=["key"])
    rows = [{"key": k, "kind": kind, "created_at": now} for k, kind in keys.items()]
    await session.execute(stmt, rows)
    return len(keys)


def _scrub(
    value: Any, *, mention_ids: set[int], author_ids: set[int], handles: set[str]
) -> tuple[Any, bool]:
    """A copy of stored JSON without the person's words and names, numbers unchanged."""
    if isinstance(value, list):
        changed = False
        items = []
        for item in value:
            new, did = _scrub(item, mention_ids=mention_ids, author_ids=author_ids, handles=handles)
            items.append(new)
            changed |= did
        return items, changed
    if not isinstance(value, dict):
        return value, False
    out: dict[str, Any] = {}
    changed = False
    for key, item in value.items():
        new, did = _scrub(item, mention_ids=mention_ids, author_ids=author_ids, handles=handles)
        out[key] = new
        changed |= did
    # A mention card: its words, link and who wrote it go; its counts stay.
    if out.get("id") in mention_ids and "text" in out:
        for name, blank in (("text", ""), ("author", None), ("url", None)):
            if name in out and out[name] != blank:
                out[name] = blank
                changed = True
    # A voice: the person's names go; mentions, reach and the like stay.
    shown = out.get("handle") if out.get("handle") is not None else out.get("display_name")
    named = out.get("author_id") in author_ids or (isinstance(shown, str) and shown in handles)
    if named:
        for name in ("handle", "display_name", "profile_url"):
            if out.get(name) is not None:
                out[name] = None
                changed = True
    return out, changed


async def _scrub_stored(
    session: AsyncSession,
    *,
    since: datetime,
    mention_ids: set[int],
    author_ids: set[int],
    handles: set[str],
) -> tuple[int, int, int]:
    """Digests, alerts and integration events from `since` on, without the person."""

    def scrub(value: Any) -> tuple[Any, bool]:
        return _scrub(value, mention_ids=mention_ids, author_ids=author_ids, handles=handles)

    counts = []
    for model, id_column, column, when in (
        (Digest, Digest.id, Digest.data, Digest.period_end),
        (Alert, Alert.id, Alert.drivers, Alert.window_end),
        (
            IntegrationEvent,
            IntegrationEvent.id,
            IntegrationEvent.payload,
            IntegrationEvent.created_at,
        ),
    ):
        changed = 0
        after_id = 0
        while True:
            rows = (
                await session.execute(
                    select(id_column, column)
                    .where(when >= since, id_column > after_id)
                    .order_by(id_column)
                    .limit(_CHUNK)
                )
            ).all()
            for row_id, stored in rows:
                new, did = scrub(stored)
                if did:
                    await session.execute(
                        update(model)
                        .where(id_column == row_id)
                        .values({column.key: new})
                        .execution_options(synchronize_session=False)
                    )
                    changed += 1
            if len(rows) < _CHUNK:
                break
            after_id = rows[-1][0]
        counts.append(changed)
    return counts[0], counts[1], counts[2]


async def erase_person(
    session: AsyncSession,
    *,
    author_id: int,
    secret: bytes,
    actor: User | None,
    actor_label: str | None = None,
    reason: str = "request",
    suppress_authors: bool = True,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase the person behind `author_id` on every linked identity (see the module); flushes.

    `suppress_authors` (erasure on request) also drops their future posts at ingest; retention
    leaves it off: only re-fetched copies of the erased posts are dropped then.
    """
    now = now or utcnow()
    identities = await person_group(session, author_id=author_id)
    group = [a.id for a in identities]
    report = ErasureReport(author_id=author_id, identity_ids=group)
    rows = (
        await session.execute(
            select(
                Mention.id,
                Mention.platform,
                Mention.external_id,
                Mention.author_id,
                Mention.created_at,
            ).where(Mention.author_id.in_(group), ~Mention.external_id.startswith(ERASED_PREFIX))
        )
    ).all()
    held_rows = await session.execute(
        select(LegalHold.mention_id).where(
            LegalHold.mention_id.in_([r.id for r in rows]), LegalHold.lifted_at.is_(None)
        )
    )
    held = set(held_rows.scalars())
    erasing = [r for r in rows if r.id not in held]
    report.held_mentions = len(held)
    held_authors = {r.author_id for r in rows if r.id in held}
    people = [a for a in identities if not is_erased(a) and a.id not in held_authors]
    ids = sorted(r.id for r in erasing)
    id_set = set(ids)

    keys = {suppression_key(secret, "post", r.platform, r.external_id): "post" for r in erasing}
    if suppress_authors:
        keys |= {
            suppression_key(secret, "author", a.platform, a.platform_id): "author" for a in people
        }
    report.suppressed = await _suppress(session, keys, now)

    # Quarantined items of theirs: rejected copies of their posts, or payloads naming them.
    originals = sorted({r.external_id for r in erasing})
    quarantine_conditions: list[ColumnElement[bool]] = [
        QuarantinedItem.external_id.in_(chunk) for chunk in _chunks_str(originals)
    ]
    quarantine_conditions += [
        QuarantinedItem.payload.contains(f'"{a.platform_id}"', autoescape=True)
        for a in people
        if len(a.platform_id) >= 3
    ]
    if quarantine_conditions:
        gone = await session.execute(
            delete(QuarantinedItem)
            .where(or_(*quarantine_conditions))
            .returning(QuarantinedItem.id)
            .execution_options(synchronize_session=False)
        )
        report.quarantined = len(gone.all())

    if ids:
        first = min(r.created_at for r in erasing)
        report.digests, report.alerts, report.events = await _scrub_stored(
            session,
            since=first,
            mention_ids=id_set,
            author_ids={a.id for a in people},
            handles={h for a in people for h in (a.handle, a.display_name) if h},
        )
    for chunk in _chunks(ids):
        report.notes += len(
            (
                await session.execute(
                    delete(Note)
                    .where(Note.mention_id.in_(chunk))
                    .returning(Note.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        await session.execute(
            update(MentionTopic)
            .where(MentionTopic.mention_id.in_(chunk))
            .values(spans=[])
            .execution_options(synchronize_session=False)
        )
        report.responses += len(
            (
                await session.execute(
                    update(Response)
                    .where(Response.mention_id.in_(chunk))
                    .values(url=None, note=None)
                    .returning(Response.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        report.outbox_cancelled += len(
            (
                await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.mention_id.in_(chunk),
                        OutboxMessage.status.in_(WAITING_OUTBOX),
                    )
                    .values(
                        status=OutboxStatus.CANCELLED.value,
                        version=OutboxMessage.version + 1,
                        lease_until=None,
                        scheduled_at=None,
                        updated_at=now,
                    )
                    .returning(OutboxMessage.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        report.outbox_redacted += len(
            (
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.mention_id.in_(chunk))
                    .values(body="", title=None, platform_raw=null(), last_error=None)
                    .returning(OutboxMessage.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        # The tombstone: counts stay, words and identifiers go (the search index follows).
        await session.execute(
            update(Mention)
            .where(Mention.id.in_(chunk))
            .values(
                text="",
                html=None,
                raw=null(),
                url=None,
                external_id=literal(ERASED_PREFIX) + cast(Mention.id, String),
                fingerprint="erased",
                reply_to_external_id=None,
                thread_external_id=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    report.mentions = len(ids)

    person_ids = [a.id for a in people]
    if person_ids:
        report.links = len(
            (
                await session.execute(
                    delete(AuthorLink)
                    .where(
                        or_(
                            AuthorLink.author_id.in_(person_ids),
                            AuthorLink.linked_author_id.in_(person_ids),
                        )
                    )
                    .returning(AuthorLink.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
    report.author_notes = len(
        (
            await session.execute(
                delete(AuthorNote)
                .where(AuthorNote.author_id.in_(group))
                .returning(AuthorNote.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    for person in people:
        await session.execute(
            update(Author)
            .where(Author.id == person.id)
            .values(
                platform_id=f"{ERASED_PREFIX}{person.id}",
                handle=None,
                display_name=None,
                profile_url=None,
                followers=None,
            )
            .execution_options(synchronize_session=False)
        )
    report.authors = len(people)
    for identity in identities:
        await session.refresh(identity)
    entry = audit.record(
        session,
        action=ERASURE_ACTION,
        actor=actor,
        actor_label=actor_label,
        entity="author",
        entity_id=author_id,
        after={"reason": reason, "identities": group, "held_mentions": report.held_mentions}
        | report.counts(),
    )
    await session.flush()
    report.audit_id = entry.id
    return report


def _chunks_str(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


# -- access ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MentionRecord:
    """One mention of the person, with what staff added to it."""

    mention: Mention
    source: str
    queue: QueueItem | None
    topics: list[str]
    tags: list[str]
    notes: list[tuple[Note, str | None]]
    responses: list[Response]
    appreciations: list[Appreciation]


@dataclass(frozen=True)
class PersonRecords:
    """Everything Luister holds about one person."""

    author_id: int
    generated_at: datetime
    identities: list[Author]
    links: list[AuthorLink]
    author_notes: list[tuple[AuthorNote, str | None]]
    mentions: list[MentionRecord]
    outbox: list[OutboxMessage]
    audit: list[AuditEntry]


async def _grouped(session: AsyncSession, stmt: Any, ids: Sequence[int], column: Any) -> list[Any]:
    found: list[Any] = []
    for chunk in _chunks(ids):
        found += list((await session.execute(stmt.where(column.in_(chunk)))).all())
    return found


async def person_records(session: AsyncSession, *, author_id: int) -> PersonRecords:
    """Everything held about the person behind `author_id`, on every linked identity."""
    identities = await person_group(session, author_id=author_id)
    group = [a.id for a in identities]
    links = list(
        (
            await session.execute(
                select(AuthorLink)
                .where(or_(AuthorLink.author_id.in_(group), AuthorLink.linked_author_id.in_(group)))
                .order_by(AuthorLink.id)
            )
        ).scalars()
    )
    author_notes: list[tuple[AuthorNote, str | None]] = [
        (n, u)
        for n, u in await session.execute(
            select(AuthorNote, User.username)
            .outerjoin(User, User.id == AuthorNote.user_id)
            .where(AuthorNote.author_id.in_(group))
            .order_by(AuthorNote.id)
        )
    ]
    rows = (
        await session.execute(
            select(Mention, Source.name, QueueItem)
            .join(Source, Source.id == Mention.source_id)
            .outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
            .where(Mention.author_id.in_(group))
            .order_by(Mention.created_at, Mention.id)
        )
    ).all()
    ids = [m.id for m, _, _ in rows]
    topics: dict[int, list[str]] = {}
    for mention_id, name in await _grouped(
        session,
        select(MentionTopic.mention_id, Topic.name)
        .join(Topic, Topic.id == MentionTopic.topic_id)
        .order_by(Topic.name),
        ids,
        MentionTopic.mention_id,
    ):
        topics.setdefault(mention_id, []).append(name)
    tags: dict[int, list[str]] = {}
    for mention_id, name in await _grouped(
        session,
        select(MentionTag.mention_id, Tag.name)
        .join(Tag, Tag.id == MentionTag.tag_id)
        .order_by(Tag.name),
        ids,
        MentionTag.mention_id,
    ):
        tags.setdefault(mention_id, []).append(name)
    notes: dict[int, list[tuple[Note, str | None]]] = {}
    for note, username in await _grouped(
        session,
        select(Note, User.username).outerjoin(User, User.id == Note.author_id).order_by(Note.id),
        ids,
        Note.mention_id,
    ):
        notes.setdefault(note.mention_id, []).append((note, username))
    responses: dict[int, list[Response]] = {}
    for (response,) in await _grouped(
        session, select(Response).order_by(Response.id), ids, Response.mention_id
    ):
        responses.setdefault(response.mention_id, []).append(response)
    liked: dict[int, list[Appreciation]] = {}
    for (appreciation,) in await _grouped(
        session, select(Appreciation).order_by(Appreciation.id), ids, Appreciation.mention_id
    ):
        liked.setdefault(appreciation.mention_id, []).append(appreciation)
    outbox = [
        row
        for (row,) in await _grouped(
            session, select(OutboxMessage).order_by(OutboxMessage.id), ids, OutboxMessage.mention_id
        )
    ]
    entries = [
        e
        for (e,) in await _grouped(
            session, select(AuditEntry).order_by(AuditEntry.id), ids, AuditEntry.mention_id
        )
    ]
    entries += list(
        (
            await session.execute(
                select(AuditEntry)
                .where(
                    AuditEntry.entity == "author",
                    AuditEntry.entity_id.in_([str(g) for g in group]),
                )
                .order_by(AuditEntry.id)
            )
        ).scalars()
    )
    return PersonRecords(
        author_id=author_id,
        generated_at=utcnow(),
        identities=identities,
        links=links,
        author_notes=author_notes,
        mentions=[
            MentionRecord(
                mention=m,
                source=source,
                queue=queue,
                topics=topics.get(m.id, []),
                tags=tags.get(m.id, []),
                notes=notes.get(m.id, []),
                responses=responses.get(m.id, []),
                appreciations=liked.get(m.id, []),
            )
            for m, source, queue in rows
        ],
        outbox=outbox,
        audit=sorted({e.id: e for e in entries}.values(), key=lambda e: e.id),
    )


def record_access(
    session: AsyncSession,
    *,
    author_id: int,
    records: PersonRecords,
    fmt: str,
    actor: User | None,
    actor_label: str | None = None,
) -> None:
    """Note in the audit log that someone read everything held about the person."""
    audit.record(
        session,
        action=ACCESS_ACTION,
        actor=actor,
        actor_label=actor_label,
        entity="author",
        entity_id=author_id,
        after={
            "format": fmt,
            "identities": [a.id for a in records.identities],
            "mentions": len(records.mentions),
        },
    )

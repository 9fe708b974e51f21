"""Incidents: grouping bursts of mentions, and triaging and answering them as one.

Detection (`detect_incidents`) runs as a periodic job and is idempotent: a mention belongs to at
most one incident (the member table's primary key), groups that reach an open incident join
it, and a group that qualifies on its own opens a new one. Staff then move every open member
through the queue at once (`set_status`, one queue write per item with its version, claim check
and audit entry) and answer every author once with one template (`reply_to_incident`): each
author's reply is an ordinary outbox row whose idempotency key is derived from the incident and
the author, so asking again finds the row and sends nothing new.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import (
    Author,
    Incident,
    IncidentMember,
    IncidentStatus,
    Mention,
    OutboxMessage,
    QueueItem,
    Status,
    User,
    utcnow,
)
from listener.settings import Settings
from moderation.incidents.detect import (
    Burst,
    DetectConfig,
    Post,
    find_bursts,
    peak_hour,
    qualifies,
    term_forms,
    title_terms,
)
from moderation.outbox import reply_templates as templates
from moderation.outbox import service as outbox
from moderation.outbox.service import PlaceholdersUnfilled
from moderation.queue import audit, workflow
from moderation.queue.errors import InvalidRequest, NotFound, QueueError

#: Mentions fetched (or written) this recently are looked at again by each detection run.
LOOKBACK = timedelta(days=2)
#: At most this many mentions are read per run (newest first), history included.
MAX_POSTS = 50_000
#: Queue statuses that count as still open for a status change of the whole incident.
OPEN_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.ESCALATED, Status.SNOOZED})
_CHUNK = 2000
_T = TypeVar("_T")


class IncidentConflict(QueueError):
    """The incident is not in a state that allows this."""

    status = 409
    type_slug = "incident-conflict"
    title = "The incident cannot do that now"


@dataclass
class DetectReport:
    """What one detection run did."""

    created: list[int] = field(default_factory=list)
    joined: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for job results and logs."""
        return {"created": self.created, "joined": {str(k): v for k, v in self.joined.items()}}


def _chunks(ids: Sequence[_T]) -> list[Sequence[_T]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def _post(row: Any) -> Post:
    return Post(
        id=row.id,
        at=row.created_at,
        author=f"a{row.author_id}" if row.author_id is not None else f"m{row.id}",
        platform=row.platform,
        external_id=row.external_id,
        thread=row.thread_external_id,
        reply_to=row.reply_to_external_id,
        language=row.language,
        text=row.text or "",
        member=row.queued and row.own_account_id is None and row.deleted_at_source is None,
    )


def _post_columns() -> list[Any]:
    return [
        Mention.id,
        Mention.created_at,
        Mention.author_id,
        Mention.platform,
        Mention.external_id,
        Mention.thread_external_id,
        Mention.reply_to_external_id,
        Mention.language,
        Mention.text,
        Mention.deleted_at_source,
        Author.own_account_id,
        QueueItem.mention_id.is_not(None).label("queued"),
    ]


async def _load_posts(session: AsyncSession, *, since: datetime, until: datetime) -> list[Post]:
    stmt = (
        select(*_post_columns())
        .outerjoin(Author, Author.id == Mention.author_id)
        .outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
        .where(Mention.created_at >= since, Mention.created_at <= until)
        .order_by(Mention.created_at.desc(), Mention.id.desc())
        .limit(MAX_POSTS)
    )
    return [_post(row) for row in (await session.execute(stmt)).all()]


async def _posts_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Post]:
    found: list[Post] = []
    for chunk in _chunks(list(ids)):
        stmt = (
            select(*_post_columns())
            .outerjoin(Author, Author.id == Mention.author_id)
            .outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
            .where(Mention.id.in_(chunk))
        )
        found.extend(_post(row) for row in (await session.execute(stmt)).all())
    return found


async def _scan_from(session: AsyncSession, *, now: datetime) -> datetime | None:
    """The earliest time a run must look at: new arrivals, and open incidents still growing."""
    recent = now - LOOKBACK
    arrived = (
        await session.execute(
            select(func.min(Mention.created_at)).where(
                (Mention.fetched_at >= recent) | (Mention.created_at >= recent),
                Mention.created_at <= now,
            )
        )
    ).scalar_one_or_none()
    if arrived is None:
        return None
    growing = (
        await session.execute(
            select(func.min(Incident.started_at)).where(
                Incident.status == IncidentStatus.OPEN.value
            )
        )
    ).scalar_one_or_none()
    return min(arrived, growing) if growing is not None else arrived


async def detect_incidents(
    session: AsyncSession, *, now: datetime | None = None, config: DetectConfig | None = None
) -> DetectReport:
    """Group recent bursts into incidents; let new members join open ones. Flushes only."""
    now = now or utcnow()
    config = config or DetectConfig()
    report = DetectReport()
    scan_from = await _scan_from(session, now=now)
    if scan_from is None:
        return report
    history_start = (await session.execute(select(func.min(Mention.created_at)))).scalar_one()
    posts = await _load_posts(session, since=scan_from - config.baseline, until=now)
    by_id = {p.id: p for p in posts}
    bursts, terms = find_bursts(
        posts, scan_from=scan_from, config=config, history_start=history_start
    )
    if not bursts:
        return report
    in_bursts = [i for b in bursts for i in b.post_ids]
    assigned: dict[int, tuple[int, str]] = {}
    for chunk in _chunks(in_bursts):
        rows = await session.execute(
            select(IncidentMember.mention_id, Incident.id, Incident.status)
            .join(Incident, Incident.id == IncidentMember.incident_id)
            .where(IncidentMember.mention_id.in_(chunk))
        )
        assigned.update({m: (i, s) for m, i, s in rows.all()})
    touched: set[int] = set()
    for burst in sorted(bursts, key=lambda b: min(by_id[i].at for i in b.post_ids)):
        target = _target(burst, assigned)
        fresh = [i for i in burst.post_ids if i not in assigned and by_id[i].member]
        if target is None:
            candidate = burst
            if any(i in assigned for i in burst.post_ids):  # only closed incidents: start anew
                unassigned = [i for i in burst.post_ids if i not in assigned]
                candidate = Burst(
                    post_ids=unassigned,
                    reasons={i: burst.reasons[i] for i in unassigned},
                    hot_posts=burst.hot_posts,
                )
            if not fresh or not qualifies(candidate, by_id, config):
                continue
            incident = Incident(
                title="",
                terms=[],
                status=IncidentStatus.OPEN.value,
                started_at=now,
                peak_at=now,
                ended_at=now,
                explain={"links": dict(Counter(burst.reasons[i] for i in fresh))},
            )
            session.add(incident)
            await session.flush()
            target = incident.id
            report.created.append(target)
        elif fresh:
            report.joined[target] = report.joined.get(target, 0) + len(fresh)
        if not fresh:
            continue
        for mention_id in fresh:
            session.add(
                IncidentMember(
                    incident_id=target, mention_id=mention_id, reason=burst.reasons[mention_id]
                )
            )
            assigned[mention_id] = (target, IncidentStatus.OPEN.value)
        touched.add(target)
    await session.flush()
    # Open incidents seen in this run are brought up to date too: an erased member's words
    # leave the title at the next run.
    touched |= {i for i, status in assigned.values() if status == IncidentStatus.OPEN.value}
    background = [p for p in posts if p.id not in assigned]
    for incident_id in touched:
        await refresh(session, incident_id=incident_id, background=background, terms=terms)
    if report.created:
        audit.record(
            session,
            action="incident.detect",
            actor=None,
            entity="incident",
            entity_id=",".join(str(i) for i in report.created)[:64],
            after=report.as_dict(),
        )
    return report


def _target(burst: Burst, assigned: dict[int, tuple[int, str]]) -> int | None:
    """The open incident most of the group's assigned posts belong to, if any."""
    open_ones = Counter(
        assigned[i][0]
        for i in burst.post_ids
        if i in assigned and assigned[i][1] == IncidentStatus.OPEN.value
    )
    if not open_ones:
        return None
    return min(open_ones, key=lambda incident_id: (-open_ones[incident_id], incident_id))


async def member_ids(session: AsyncSession, *, incident_id: int) -> list[int]:
    """The incident's members, oldest mention first."""
    rows = await session.execute(
        select(IncidentMember.mention_id)
        .join(Mention, Mention.id == IncidentMember.mention_id)
        .where(IncidentMember.incident_id == incident_id)
        .order_by(Mention.created_at, Mention.id)
    )
    return list(rows.scalars())


async def refresh(
    session: AsyncSession,
    *,
    incident_id: int,
    background: Sequence[Post] = (),
    terms: dict[int, dict[str, str]] | None = None,
    config: DetectConfig | None = None,
) -> Incident:
    """Recompute an incident's times, counts and title from its members as stored now.

    The title reads the members' current text, so an erased member's words drop out of it
    (and title terms need several authors anyway); the count keeps erased members.
    """
    config = config or DetectConfig()
    incident = await get_incident(session, incident_id=incident_id)
    members = await _posts_by_id(session, await member_ids(session, incident_id=incident_id))
    if not members:
        return incident
    terms = dict(terms or {})
    for post in members:  # the current text: an erased member has none left
        terms[post.id] = term_forms(post.text, post.language)
    times = [p.at for p in members]
    words = title_terms(members, terms, background, config)
    incident.terms = words
    incident.title = (" · ".join(words) or f"{len(members)} similar mentions")[:300]
    incident.started_at = min(times)
    incident.ended_at = max(times)
    incident.peak_at = peak_hour(times) or incident.started_at
    incident.mention_count = len(members)
    incident.author_count = len({p.author for p in members})
    incident.updated_at = utcnow()
    await session.flush()
    return incident


async def get_incident(session: AsyncSession, *, incident_id: int) -> Incident:
    """One incident, as stored now."""
    incident = await session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return incident


async def list_incidents(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    status: IncidentStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Incident]:
    """Incidents, newest first (by id); `since`/`until` bound when they were active."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(Incident.id < before_id)
    if status is not None:
        stmt = stmt.where(Incident.status == status.value)
    if since is not None:
        stmt = stmt.where(Incident.ended_at >= since)
    if until is not None:
        stmt = stmt.where(Incident.started_at < until)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class Member:
    """A member as staff see it: the mention, its author and its queue state."""

    mention_id: int
    reason: str
    created_at: datetime
    platform: str
    author_id: int | None
    author_handle: str | None
    text: str
    url: str | None
    status: str | None
    version: int | None


async def members(session: AsyncSession, *, incident_id: int) -> list[Member]:
    """Every member with its queue state, oldest first."""
    await get_incident(session, incident_id=incident_id)
    rows = await session.execute(
        select(
            IncidentMember.mention_id,
            IncidentMember.reason,
            Mention.created_at,
            Mention.platform,
            Mention.author_id,
            Author.handle,
            Mention.text,
            Mention.url,
            QueueItem.status,
            QueueItem.version,
        )
        .join(Mention, Mention.id == IncidentMember.mention_id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .outerjoin(QueueItem, QueueItem.mention_id == Mention.id)
        .where(IncidentMember.incident_id == incident_id)
        .order_by(Mention.created_at, Mention.id)
    )
    return [
        Member(
            mention_id=row[0],
            reason=row[1],
            created_at=row[2],
            platform=row[3],
            author_id=row[4],
            author_handle=row[5],
            text=row[6],
            url=row[7],
            status=row[8],
            version=row[9],
        )
        for row in rows.all()
    ]


@dataclass
class Outcome:
    """What an action on the whole incident did, per member."""

    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


async def set_status(
    session: AsyncSession,
    *,
    incident_id: int,
    status: Status,
    actor: User,
    actor_label: str,
    reason: str | None = None,
) -> Outcome:
    """Move every open member (new, open, escalated, snoozed) to `status` through the queue.

    Each item is one compare-and-swap at the version it has now, with the queue's claim check,
    audit entry and event; an item another staff member holds, or that cannot go there, is
    skipped with the reason.
    """
    if status is Status.NEW:
        raise InvalidRequest("status: an incident's members cannot go back to new")
    await get_incident(session, incident_id=incident_id)
    outcome = Outcome()
    for member in await members(session, incident_id=incident_id):
        if member.status is None or Status(member.status) not in OPEN_STATUSES:
            continue
        try:
            async with session.begin_nested():
                item = await workflow.get_queue_item(session, mention_id=member.mention_id)
                updated = await workflow.change_status(
                    session,
                    mention_id=member.mention_id,
                    status=status,
                    version=item.version,
                    actor=actor,
                    actor_label=actor_label,
                    reason=reason or f"incident {incident_id}",
                )
        except QueueError as exc:
            outcome.skipped.append(
                {"mention_id": member.mention_id, "reason": exc.type_slug, "detail": str(exc)}
            )
            continue
        outcome.done.append({"mention_id": member.mention_id, "version": updated.version})
    audit.record(
        session,
        action="incident.status",
        actor=actor,
        actor_label=actor_label,
        entity="incident",
        entity_id=incident_id,
        after={
            "status": status.value,
            "changed": len(outcome.done),
            "skipped": len(outcome.skipped),
        },
    )
    return outcome


def reply_key(settings: Settings, *, incident_id: int, author_id: int) -> str:
    """The outbox idempotency key of the incident's reply to one author: the same every time."""
    message = f"incident:{incident_id}:author:{author_id}".encode()
    return hmac.new(settings.secret_bytes(), message, hashlib.sha256).hexdigest()[:40]


async def reply_to_incident(
    session: AsyncSession,
    *,
    incident_id: int,
    template_id: int,
    actor: User,
    actor_label: str,
    settings: Settings,
    values: dict[str, str] | None = None,
    by_language: dict[str, int] | None = None,
) -> Outcome:
    """One reply per author of the incident, from one template filled in for each of them.

    Each author is answered under their first member mention. The reply is a normal outbox row
    (undo window, approval rule, sending with the platform's idempotency key), keyed by incident
    and author: an author who already has one is skipped, so calling this again sends nothing
    new. A template left with placeholders refuses the whole call before anything is written.
    """
    await get_incident(session, incident_id=incident_id)
    chosen = {None: template_id} | dict(by_language or {})
    for tid in set(chosen.values()):
        # What only staff can fill (say {{link}}) must come as `values`: refuse the whole call.
        blank = await templates.render(session, template_id=tid, values=values)
        missing = [p for p in blank.unfilled if _variable(p) not in templates.MENTION_VARIABLES]
        if missing:
            raise PlaceholdersUnfilled(
                f"template {tid}: fill in {', '.join(missing)} (as values) before answering "
                "the incident",
                placeholders=missing,
            )
    first: dict[int, Member] = {}
    outcome = Outcome()
    for member in await members(session, incident_id=incident_id):
        if member.author_id is None or member.author_id in first:
            continue
        first[member.author_id] = member
    keys = {aid: reply_key(settings, incident_id=incident_id, author_id=aid) for aid in first}
    existing: dict[str, int] = {}
    for chunk in _chunks(list(keys.values())):
        rows = await session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.id).where(
                OutboxMessage.idempotency_key.in_(chunk)
            )
        )
        existing.update({k: i for k, i in rows.all()})
    plans: list[tuple[Member, str, int, str]] = []
    for author_id, member in first.items():
        key = keys[author_id]
        if key in existing:
            outcome.skipped.append(
                {
                    "mention_id": member.mention_id,
                    "author_id": author_id,
                    "reason": "already-answered",
                    "outbox_id": existing[key],
                }
            )
            continue
        language = await _language(session, member.mention_id)
        tid = chosen.get(language, template_id)
        rendered = await templates.render(
            session, template_id=tid, mention_id=member.mention_id, values=values
        )
        if rendered.unfilled:  # this author lacks a name (or the like): answer them yourself
            outcome.skipped.append(
                {
                    "mention_id": member.mention_id,
                    "author_id": author_id,
                    "reason": "placeholders-unfilled",
                    "detail": f"no value for {', '.join(rendered.unfilled)}",
                }
            )
            continue
        plans.append((member, key, tid, rendered.text))
    for member, key, tid, text in plans:
        try:
            async with session.begin_nested():
                row = await outbox.create_reply(
                    session,
                    mention_id=member.mention_id,
                    body=text,
                    actor=actor,
                    actor_label=actor_label,
                    template_id=tid,
                )
                row.idempotency_key = key
                await session.flush()
                if not settings.outbox_require_approval:
                    row = await outbox.schedule(
                        session,
                        outbox_id=row.id,
                        version=row.version,
                        actor=actor,
                        settings=settings,
                        actor_label=actor_label,
                    )
        except IntegrityError:
            outcome.skipped.append({"mention_id": member.mention_id, "reason": "already-answered"})
            continue
        except QueueError as exc:
            outcome.skipped.append(
                {"mention_id": member.mention_id, "reason": exc.type_slug, "detail": str(exc)}
            )
            continue
        outcome.done.append(
            {
                "mention_id": member.mention_id,
                "author_id": member.author_id,
                "outbox_id": row.id,
                "status": row.status,
            }
        )
    for tid in {t for _, _, t, _ in plans}:
        await templates.count_use(session, template_id=tid)
    audit.record(
        session,
        action="incident.reply",
        actor=actor,
        actor_label=actor_label,
        entity="incident",
        entity_id=incident_id,
        after={"template_id": template_id, "replies": len(outcome.done)},
    )
    return outcome


def _variable(placeholder: str) -> str:
    return placeholder.strip("{} ")


async def _language(session: AsyncSession, mention_id: int) -> str | None:
    language = (
        await session.execute(select(Mention.language).where(Mention.id == mention_id))
    ).scalar_one_or_none()
    return (language or "").split("-", 1)[0].lower() or None


async def close(
    session: AsyncSession, *, incident_id: int, actor: User, actor_label: str
) -> Incident:
    """Close an incident: it keeps its members and takes in no new ones."""
    incident = await get_incident(session, incident_id=incident_id)
    if incident.status == IncidentStatus.CLOSED.value:
        raise IncidentConflict(f"incident {incident_id} is closed already")
    incident.status = IncidentStatus.CLOSED.value
    incident.closed_at = utcnow()
    incident.closed_by_id = actor.id
    incident.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        action="incident.close",
        actor=actor,
        actor_label=actor_label,
        entity="incident",
        entity_id=incident_id,
        before={"status": IncidentStatus.OPEN.value},
        after={"status": IncidentStatus.CLOSED.value},
    )
    return incident


async def reopen(
    session: AsyncSession, *, incident_id: int, actor: User, actor_label: str
) -> Incident:
    """Open a closed incident again, so new similar mentions join it."""
    incident = await get_incident(session, incident_id=incident_id)
    if incident.status == IncidentStatus.OPEN.value:
        raise IncidentConflict(f"incident {incident_id} is open already")
    incident.status = IncidentStatus.OPEN.value
    incident.closed_at = None
    incident.closed_by_id = None
    incident.updated_at = utcnow()
    await session.flush()
    audit.record(
        session,
        action="incident.reopen",
        actor=actor,
        actor_label=actor_label,
        entity="incident",
        entity_id=incident_id,
        before={"status": IncidentStatus.CLOSED.value},
        after={"status": IncidentStatus.OPEN.value},
    )
    return incident

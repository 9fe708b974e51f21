"""Queue rules: which status changes are legal, and writes that respect the item's version.

Every staff write is a compare-and-swap on `QueueItem.version` that also refuses items another
staff member has claimed (unless an admin forces it), and writes an audit entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.events import MENTION_UPDATED, record_mention_events
from listener.models import Note, QueueItem, Role, Status, User, utcnow
from moderation.queue import audit, sla
from moderation.queue.errors import (
    ClaimedByOther,
    IllegalTransition,
    InvalidRequest,
    NotFound,
    NotPermitted,
    StaleVersion,
)
from moderation.queue.notes import record_note_mentions

# The one place that says where an item may go next. Reopening is a move back to "open".
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset(Status) - {Status.NEW},
    Status.OPEN: frozenset(Status) - {Status.NEW, Status.OPEN},
    Status.ESCALATED: frozenset(Status) - {Status.NEW, Status.ESCALATED},
    Status.SNOOZED: frozenset(Status) - {Status.NEW, Status.SNOOZED},
    Status.ANSWERED: frozenset({Status.OPEN, Status.RESOLVED, Status.ESCALATED}),
    Status.RESOLVED: frozenset({Status.OPEN}),
    Status.HIDDEN: frozenset({Status.OPEN}),
    Status.SPAM: frozenset({Status.OPEN}),
}


def allowed_next(status: Status) -> list[str]:
    """The statuses reachable from `status`, in a stable order."""
    return [s.value for s in Status if s in TRANSITIONS[status]]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def queue_state(item: QueueItem) -> dict[str, Any]:
    """The item's state as clients and the audit log see it."""
    return {
        "status": item.status,
        "priority": item.priority,
        "assignee_id": item.assignee_id,
        "version": item.version,
        "status_reason": item.status_reason,
        "snoozed_until": _iso(item.snoozed_until),
        "snooze_until_author": item.snooze_until_author,
    }


async def get_queue_item(session: AsyncSession, *, mention_id: int) -> QueueItem:
    """The queue state of a mention."""
    item = await session.get(QueueItem, mention_id, populate_existing=True)
    if item is None:
        raise NotFound(f"mention {mention_id} does not exist")
    return item


def claim_is_live(item: QueueItem, now: datetime) -> bool:
    """Whether someone holds an unexpired claim on the item."""
    return (
        item.claimed_by is not None
        and item.claim_expires_at is not None
        and item.claim_expires_at > now
    )


def check_force(actor: User, force: bool) -> None:
    """Only admins may force past someone else's claim."""
    if force and actor.role != Role.ADMIN.value:
        raise NotPermitted("force: only an admin may act on an item someone else has claimed")


async def claim_info(session: AsyncSession, item: QueueItem) -> dict[str, Any]:
    """Who holds the claim on `item` and until when, for messages and 409 bodies."""
    holder = await session.get(User, item.claimed_by) if item.claimed_by is not None else None
    return {
        "user_id": item.claimed_by,
        "username": holder.username if holder else None,
        "expires_at": _iso(item.claim_expires_at),
    }


async def refuse_if_claimed(
    session: AsyncSession, item: QueueItem, *, actor: User, force: bool, now: datetime
) -> bool:
    """Raise 409 if someone else holds a live claim; return True when an admin forced past it."""
    if not claim_is_live(item, now) or item.claimed_by == actor.id:
        return False
    if force:
        return True
    claim = await claim_info(session, item)
    raise ClaimedByOther(
        f"mention {item.mention_id} is claimed by {claim['username']} until "
        f"{claim['expires_at']}; wait, ask them, or have an admin force it",
        claim=claim,
        current=queue_state(item),
    )


def _unclaimed_or_mine(actor: User, now: datetime) -> ColumnElement[bool]:
    return or_(
        QueueItem.claimed_by.is_(None),
        QueueItem.claimed_by == actor.id,
        QueueItem.claim_expires_at <= now,
    )


async def compare_and_swap(
    session: AsyncSession,
    *,
    mention_id: int,
    version: int,
    changes: dict[str, Any],
    actor: User | None = None,
    force: bool = False,
) -> QueueItem:
    """Apply `changes` only if the item is still at `version` (and not claimed by another)."""
    now = utcnow()
    conditions = [QueueItem.mention_id == mention_id, QueueItem.version == version]
    if actor is not None and not force:
        conditions.append(_unclaimed_or_mine(actor, now))
    result = await session.execute(
        update(QueueItem)
        .where(*conditions)
        .values(**changes, version=QueueItem.version + 1, updated_at=now)
        .returning(QueueItem.mention_id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        current = await get_queue_item(session, mention_id=mention_id)
        check_version(current, version)
        if actor is not None:  # at the current version, only a claim refuses the write
            await refuse_if_claimed(session, current, actor=actor, force=False, now=now)
        raise StaleVersion(f"mention {mention_id} changed; reload it", current=queue_state(current))
    return await get_queue_item(session, mention_id=mention_id)


def check_version(item: QueueItem, version: int) -> None:
    if item.version != version:
        raise StaleVersion(
            f"mention {item.mention_id} is at version {item.version}, not {version}",
            current=queue_state(item),
        )


def check_transition(item: QueueItem, to: Status) -> None:
    """Raise 409 naming the allowed statuses if `to` is not reachable from the item's status."""
    current = Status(item.status)
    if to not in TRANSITIONS[current]:
        allowed = allowed_next(current)
        raise IllegalTransition(
            f"cannot move from {current.value} to {to.value}; "
            f"allowed from {current.value}: {', '.join(allowed)}",
            current=queue_state(item),
            allowed=allowed,
        )


def transition_changes(
    item: QueueItem,
    to: Status,
    *,
    now: datetime,
    reason: str | None = None,
    snoozed_until: datetime | None = None,
    until_author: bool = False,
) -> dict[str, Any]:
    """The columns a legal move to `to` sets: status, reason, snooze fields, SLA outcome."""
    return {
        "status": to.value,
        "status_changed_at": now,
        "status_reason": reason,
        "snoozed_until": snoozed_until if to is Status.SNOOZED else None,
        "snooze_until_author": until_author if to is Status.SNOOZED else False,
        **sla.response_changes(item, to, now),
    }


async def _transition(
    session: AsyncSession,
    *,
    mention_id: int,
    to: Status,
    version: int,
    actor: User,
    actor_label: str,
    action: str,
    reason: str | None = None,
    force: bool = False,
    snoozed_until: datetime | None = None,
    until_author: bool = False,
) -> QueueItem:
    check_force(actor, force)
    item = await get_queue_item(session, mention_id=mention_id)
    check_version(item, version)
    now = utcnow()
    forced = await refuse_if_claimed(session, item, actor=actor, force=force, now=now)
    check_transition(item, to)
    before = queue_state(item)
    changes = transition_changes(
        item, to, now=now, reason=reason, snoozed_until=snoozed_until, until_author=until_author
    )
    updated = await compare_and_swap(
        session, mention_id=mention_id, version=version, changes=changes, actor=actor, force=force
    )
    after = queue_state(updated) | ({"reason": reason} if reason else {})
    if "sla_outcome" in changes:
        after["sla_outcome"] = changes["sla_outcome"]
    if forced:
        after["forced_past_claim_of"] = item.claimed_by
    audit.record(
        session,
        mention_id=mention_id,
        action=action,
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=after,
    )
    await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["status"])
    return updated


async def change_status(
    session: AsyncSession,
    *,
    mention_id: int,
    status: Status,
    version: int,
    actor: User,
    actor_label: str,
    reason: str | None = None,
    force: bool = False,
) -> QueueItem:
    """Move a mention to `status` if that is legal from where it is and `version` is current."""
    return await _transition(
        session,
        mention_id=mention_id,
        to=status,
        version=version,
        actor=actor,
        actor_label=actor_label,
        action="status",
        reason=reason,
        force=force,
    )


async def snooze(
    session: AsyncSession,
    *,
    mention_id: int,
    version: int,
    actor: User,
    actor_label: str,
    until: datetime | None = None,
    until_author_writes: bool = False,
    reason: str | None = None,
    force: bool = False,
) -> QueueItem:
    """Put a mention aside until a time, until its author writes again, or whichever is first."""
    if until is None and not until_author_writes:
        raise InvalidRequest("snooze: give 'until', 'until_author_writes', or both")
    if until is not None and until <= utcnow():
        raise InvalidRequest("until: must be in the future")
    return await _transition(
        session,
        mention_id=mention_id,
        to=Status.SNOOZED,
        version=version,
        actor=actor,
        actor_label=actor_label,
        action="snooze",
        reason=reason,
        force=force,
        snoozed_until=until,
        until_author=until_author_writes,
    )


async def escalate(
    session: AsyncSession,
    *,
    mention_id: int,
    version: int,
    reason: str,
    actor: User,
    actor_label: str,
    force: bool = False,
) -> QueueItem:
    """Hand a mention up with a reason (kept on the item and in the audit log)."""
    if not reason.strip():
        raise InvalidRequest("reason: say why this is escalated")
    return await _transition(
        session,
        mention_id=mention_id,
        to=Status.ESCALATED,
        version=version,
        actor=actor,
        actor_label=actor_label,
        action="escalate",
        reason=reason.strip(),
        force=force,
    )


async def reopen(
    session: AsyncSession,
    *,
    mention_id: int,
    version: int,
    actor: User,
    actor_label: str,
    reason: str | None = None,
    force: bool = False,
) -> QueueItem:
    """Bring a mention back to open (from resolved, hidden, spam, answered, snoozed...)."""
    return await _transition(
        session,
        mention_id=mention_id,
        to=Status.OPEN,
        version=version,
        actor=actor,
        actor_label=actor_label,
        action="reopen",
        reason=reason,
        force=force,
    )


async def assign(
    session: AsyncSession,
    *,
    mention_id: int,
    assignee_id: int | None,
    version: int,
    actor: User,
    actor_label: str,
    force: bool = False,
) -> QueueItem:
    """Give a mention to a staff member (None unassigns) if `version` is current."""
    check_force(actor, force)
    item = await get_queue_item(session, mention_id=mention_id)
    check_version(item, version)
    await refuse_if_claimed(session, item, actor=actor, force=force, now=utcnow())
    if assignee_id is not None:
        await check_assignee(session, assignee_id=assignee_id)
    before = queue_state(item)
    updated = await compare_and_swap(
        session,
        mention_id=mention_id,
        version=version,
        changes={"assignee_id": assignee_id},
        actor=actor,
        force=force,
    )
    audit.record(
        session,
        mention_id=mention_id,
        action="assign" if assignee_id is not None else "unassign",
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=queue_state(updated),
    )
    await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["assignee"])
    return updated


async def check_assignee(session: AsyncSession, *, assignee_id: int) -> User:
    """The user to assign to: active and allowed to triage (analysts are read-only)."""
    assignee = await session.get(User, assignee_id)
    if assignee is None or not assignee.is_active:
        raise InvalidRequest(f"assignee_id: no active user with id {assignee_id}")
    if assignee.role == Role.ANALYST.value:
        raise InvalidRequest(f"assignee_id: {assignee.username} is an analyst (read-only)")
    return assignee


async def add_note(
    session: AsyncSession,
    *,
    mention_id: int,
    body: str,
    version: int,
    actor: User,
    actor_label: str,
    force: bool = False,
) -> tuple[Note, QueueItem]:
    """Attach an internal note (its @mentions notify staff); bumps the item's version."""
    check_force(actor, force)
    item = await get_queue_item(session, mention_id=mention_id)
    check_version(item, version)
    await refuse_if_claimed(session, item, actor=actor, force=force, now=utcnow())
    before = queue_state(item)
    updated = await compare_and_swap(
        session, mention_id=mention_id, version=version, changes={}, actor=actor, force=force
    )
    note = Note(mention_id=mention_id, author_id=actor.id, body=body)
    session.add(note)
    await session.flush()
    mentioned = await record_note_mentions(session, note=note)
    audit.record(
        session,
        mention_id=mention_id,
        action="note",
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=queue_state(updated)
        | {"note_id": note.id}
        | ({"mentioned": [u.username for u in mentioned]} if mentioned else {}),
    )
    return note, updated


async def apply_event_status(
    session: AsyncSession,
    *,
    mention_id: int,
    status: Status,
    reason: str,
    actor: User | None = None,
    only_from: frozenset[Status] | None = None,
    at: datetime | None = None,
) -> QueueItem | None:
    """Move a mention to `status` because something happened (our reply went out, its author
    wrote back), when that is legal from where it stands now. No client version and no claim
    check: the event happened either way. Audited; actor None means Luister itself. `at` is
    when it happened (our reply's created_at, when we answered on the platform directly)."""
    for _ in range(3):
        item = await get_queue_item(session, mention_id=mention_id)
        current = Status(item.status)
        if status not in TRANSITIONS[current] or (only_from and current not in only_from):
            return None
        before = queue_state(item)
        changes = transition_changes(item, status, now=at or utcnow(), reason=reason)
        try:
            updated = await compare_and_swap(
                session, mention_id=mention_id, version=item.version, changes=changes
            )
        except StaleVersion:
            continue  # a person changed it meanwhile: decide again on what it is now
        audit.record(
            session,
            mention_id=mention_id,
            action="status",
            actor=actor,
            before=before,
            after=queue_state(updated) | {"reason": reason},
        )
        await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["status"])
        return updated
    return None


async def raise_priority(
    session: AsyncSession, *, mention_id: int, at_least: int, reason: str
) -> QueueItem | None:
    """Lift a mention's priority to `at_least` (never lower it); audited as Luister's doing.

    The floor is kept in the priority explanation, so rescoring (moderation.queue.priority) keeps
    the item at least this high and says why.
    """
    item = await get_queue_item(session, mention_id=mention_id)
    explain = dict(item.priority_explain or {})
    floor = explain.get("floor") or {}
    if item.priority >= at_least and floor.get("at_least", 0) >= at_least:
        return None
    explain["floor"] = {"at_least": at_least, "reason": reason}
    before = queue_state(item)
    try:
        updated = await compare_and_swap(
            session,
            mention_id=mention_id,
            version=item.version,
            changes={"priority": max(item.priority, at_least), "priority_explain": explain},
        )
    except StaleVersion:
        return None  # someone just changed it; the next answer or recompute decides again
    audit.record(
        session,
        mention_id=mention_id,
        action="priority",
        actor=None,
        before=before,
        after=queue_state(updated) | {"reason": reason},
    )
    await record_mention_events(session, MENTION_UPDATED, [mention_id], changes=["priority"])
    return updated

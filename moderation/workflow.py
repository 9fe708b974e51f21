"""Queue rules: which status changes are legal, and writes that respect the item's version."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import AuditEntry, Note, QueueItem, Status, User, utcnow
from moderation.errors import IllegalTransition, InvalidRequest, NotFound, StaleVersion

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


def queue_state(item: QueueItem) -> dict[str, Any]:
    """The item's state as clients and the audit log see it."""
    return {
        "status": item.status,
        "priority": item.priority,
        "assignee_id": item.assignee_id,
        "version": item.version,
    }


async def get_queue_item(session: AsyncSession, *, mention_id: int) -> QueueItem:
    """The queue state of a mention."""
    item = await session.get(QueueItem, mention_id, populate_existing=True)
    if item is None:
        raise NotFound(f"mention {mention_id} does not exist")
    return item


async def _compare_and_swap(
    session: AsyncSession,
    *,
    mention_id: int,
    version: int,
    changes: dict[str, Any],
) -> QueueItem:
    """Apply `changes` only if the item is still at `version`; bump the version."""
    now = utcnow()
    result = await session.execute(
        update(QueueItem)
        .where(QueueItem.mention_id == mention_id, QueueItem.version == version)
        .values(**changes, version=QueueItem.version + 1, updated_at=now)
        .returning(QueueItem.mention_id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        current = await get_queue_item(session, mention_id=mention_id)
        raise StaleVersion(
            f"mention {mention_id} is at version {current.version}, not {version}",
            current=queue_state(current),
        )
    return await get_queue_item(session, mention_id=mention_id)


def _audit(
    session: AsyncSession,
    *,
    mention_id: int,
    action: str,
    actor: User,
    actor_label: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    session.add(
        AuditEntry(
            mention_id=mention_id,
            entity="mention",
            entity_id=str(mention_id),
            action=action,
            actor_user_id=actor.id,
            actor=actor_label,
            before=before,
            after=after,
        )
    )


def _check_version(item: QueueItem, version: int) -> None:
    if item.version != version:
        raise StaleVersion(
            f"mention {item.mention_id} is at version {item.version}, not {version}",
            current=queue_state(item),
        )


async def change_status(
    session: AsyncSession,
    *,
    mention_id: int,
    status: Status,
    version: int,
    actor: User,
    actor_label: str,
    reason: str | None = None,
) -> QueueItem:
    """Move a mention to `status` if that is legal from where it is and `version` is current."""
    item = await get_queue_item(session, mention_id=mention_id)
    _check_version(item, version)
    current = Status(item.status)
    if status not in TRANSITIONS[current]:
        allowed = allowed_next(current)
        raise IllegalTransition(
            f"cannot move from {current.value} to {status.value}; "
            f"allowed from {current.value}: {', '.join(allowed)}",
            current=queue_state(item),
            allowed=allowed,
        )
    before = queue_state(item)
    updated = await _compare_and_swap(
        session,
        mention_id=mention_id,
        version=version,
        changes={"status": status.value, "status_changed_at": utcnow()},
    )
    after = queue_state(updated) | ({"reason": reason} if reason else {})
    _audit(
        session,
        mention_id=mention_id,
        action="status",
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=after,
    )
    return updated


async def assign(
    session: AsyncSession,
    *,
    mention_id: int,
    assignee_id: int | None,
    version: int,
    actor: User,
    actor_label: str,
) -> QueueItem:
    """Give a mention to a staff member (None unassigns) if `version` is current."""
    item = await get_queue_item(session, mention_id=mention_id)
    _check_version(item, version)
    if assignee_id is not None:
        assignee = await session.get(User, assignee_id)
        if assignee is None or not assignee.is_active:
            raise InvalidRequest(f"assignee_id: no active user with id {assignee_id}")
        if assignee.role == "analyst":
            raise InvalidRequest(f"assignee_id: {assignee.username} is an analyst (read-only)")
    before = queue_state(item)
    updated = await _compare_and_swap(
        session, mention_id=mention_id, version=version, changes={"assignee_id": assignee_id}
    )
    _audit(
        session,
        mention_id=mention_id,
        action="assign" if assignee_id is not None else "unassign",
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=queue_state(updated),
    )
    return updated


async def add_note(
    session: AsyncSession,
    *,
    mention_id: int,
    body: str,
    version: int,
    actor: User,
    actor_label: str,
) -> tuple[Note, QueueItem]:
    """Attach an internal note; bumps the item's version so others see it changed."""
    item = await get_queue_item(session, mention_id=mention_id)
    _check_version(item, version)
    before = queue_state(item)
    updated = await _compare_and_swap(session, mention_id=mention_id, version=version, changes={})
    note = Note(mention_id=mention_id, author_id=actor.id, body=body)
    session.add(note)
    await session.flush()
    _audit(
        session,
        mention_id=mention_id,
        action="note",
        actor=actor,
        actor_label=actor_label,
        before=before,
        after=queue_state(updated) | {"note_id": note.id},
    )
    return note, updated

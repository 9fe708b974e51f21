"""The outbox: a reply or post goes draft → (approved) → scheduled → sending → sent | failed.

The row is the truth. Staff move it up to `scheduled`, which opens the undo window; a job
(arq or the in-process runner) takes it from there (`moderation.outbox.sending`). Every move is a
compare-and-swap on the row's status (and `version` where the caller saw one), and every move
is in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import WriteAction
from connectors.registry import UnknownKind, get_connector
from listener.events import REPLY_SCHEDULED, record_event
from listener.models import Mention, OutboxKind, OutboxMessage, OutboxStatus, Source, User, utcnow
from listener.settings import Settings
from moderation.outbox.reply_templates import unfilled_placeholders
from moderation.queue import audit
from moderation.queue.errors import InvalidRequest, NotFound, QueueError

S = OutboxStatus
# Where a row may go next. Editing keeps a draft a draft; `sending` may be taken over when
# its worker's lease ran out.
OUTBOX_TRANSITIONS: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    S.DRAFT: frozenset({S.DRAFT, S.APPROVED, S.SCHEDULED, S.CANCELLED}),
    S.APPROVED: frozenset({S.DRAFT, S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.DRAFT, S.SENDING, S.CANCELLED}),
    S.SENDING: frozenset({S.SENDING, S.SENT, S.FAILED}),
    S.FAILED: frozenset({S.SCHEDULED, S.SENDING, S.CANCELLED}),
    S.SENT: frozenset(),
    S.CANCELLED: frozenset(),
}
EDITABLE = frozenset({S.DRAFT, S.APPROVED})


class OutboxConflict(QueueError):
    """The reply is not in a state that allows this (e.g. the undo window has closed)."""

    status = 409
    type_slug = "outbox-conflict"
    title = "The reply cannot do that now"


class PlaceholdersUnfilled(QueueError):
    """The text still has template placeholders; `placeholders` lists them."""

    status = 409
    type_slug = "placeholders-unfilled"
    title = "Fill in the placeholders first"


class ApprovalRequired(QueueError):
    """The team requires a second pair of eyes before replies leave."""

    status = 409
    type_slug = "approval-required"
    title = "Another staff member must approve this first"


class PlatformRule(QueueError):
    """The text or target breaks a rule of the platform; nothing was sent."""

    status = 400
    type_slug = "platform-rule"
    title = "The platform would refuse this"


class NoWriteApi(QueueError):
    """The platform offers no way to do this through its API."""

    status = 409
    type_slug = "no-write-api"
    title = "The platform does not allow this through its API"


class NoCredentials(QueueError):
    """The source has no credentials to write with; `detail` says how to add them."""

    status = 409
    type_slug = "no-credentials"
    title = "The source has no credentials to write with"


def outbox_state(row: OutboxMessage) -> dict[str, Any]:
    """The row's state as clients and the audit log see it."""
    return {
        "status": row.status,
        "version": row.version,
        "attempts": row.attempts,
        "scheduled_at": row.scheduled_at.isoformat() if row.scheduled_at else None,
    }


async def record_reply_event(
    session: AsyncSession, type: str, row: OutboxMessage, **extra: Any
) -> None:
    """Tell integrations (the event log) where a reply or post stands; no body, no secrets."""
    reply = {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "mention_id": row.mention_id,
        "source_id": row.source_id,
        "question_id": row.question_id,
        "attempts": row.attempts,
        "scheduled_at": row.scheduled_at.isoformat() if row.scheduled_at else None,
    }
    await record_event(
        session, type, f"outbox:{row.id}", {"reply": reply, **extra}, mention_id=row.mention_id
    )


def new_idempotency_key() -> str:
    """A key sent with every attempt of one row, so the platform can drop repeats."""
    return uuid.uuid4().hex


def _record(
    session: AsyncSession,
    row: OutboxMessage,
    action: str,
    *,
    actor: User | None,
    actor_label: str | None = None,
    before: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    audit.record(
        session,
        action=f"outbox.{action}",
        actor=actor,
        actor_label=actor_label,
        mention_id=row.mention_id,
        entity="outbox",
        entity_id=row.id,
        before=before,
        after=outbox_state(row) | extra,
    )


async def get_outbox(session: AsyncSession, *, outbox_id: int) -> OutboxMessage:
    """The outbox row, as stored now."""
    row = await session.get(OutboxMessage, outbox_id, populate_existing=True)
    if row is None:
        raise NotFound(f"reply {outbox_id} does not exist")
    return row


async def list_outbox(
    session: AsyncSession, *, mention_id: int | None = None, status: list[str] | None = None
) -> list[OutboxMessage]:
    """Rows for a mention (or all), newest first."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)
    if mention_id is not None:
        stmt = stmt.where(OutboxMessage.mention_id == mention_id)
    if status:
        stmt = stmt.where(OutboxMessage.status.in_(status))
    return list((await session.execute(stmt)).scalars())


async def transition(
    session: AsyncSession,
    *,
    outbox_id: int,
    to: OutboxStatus,
    allowed_from: Collection[OutboxStatus],
    version: int | None = None,
    changes: dict[str, Any] | None = None,
) -> tuple[OutboxMessage, dict[str, Any]]:
    """Move the row to `to` if it is in `allowed_from` (and at `version`); the state before."""
    row = await get_outbox(session, outbox_id=outbox_id)
    before = outbox_state(row)
    illegal = [s for s in allowed_from if to not in OUTBOX_TRANSITIONS[s]]
    assert not illegal, f"{illegal} -> {to} is not in OUTBOX_TRANSITIONS"
    conditions = [OutboxMessage.id == outbox_id, OutboxMessage.status.in_(list(allowed_from))]
    if version is not None:
        conditions.append(OutboxMessage.version == version)
    result = await session.execute(
        update(OutboxMessage)
        .where(*conditions)
        .values(
            status=to.value,
            version=OutboxMessage.version + 1,
            updated_at=utcnow(),
            **(changes or {}),
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        current = await get_outbox(session, outbox_id=outbox_id)
        if version is not None and current.version != version:
            reason = f"it is at version {current.version}, not {version}"
        else:
            reason = f"it is {current.status}"
        raise OutboxConflict(
            f"reply {outbox_id} cannot become {to.value}: {reason}",
            current=outbox_state(current),
        )
    return await get_outbox(session, outbox_id=outbox_id), before


async def _writable_source(session: AsyncSession, source_id: int, action: WriteAction) -> Source:
    source = await session.get(Source, source_id)
    if source is None:
        raise InvalidRequest(f"source_id: no source with id {source_id}")
    try:
        connector = get_connector(source.kind)
    except UnknownKind as exc:
        raise NoWriteApi(str(exc)) from exc
    if action not in getattr(connector, "write_actions", frozenset()):
        raise NoWriteApi(
            f"{source.kind} offers no {action.value} through its API; answer there yourself "
            "and record it as an external answer",
            platform=source.kind,
        )
    return source


async def create_reply(
    session: AsyncSession,
    *,
    mention_id: int,
    body: str,
    actor: User,
    actor_label: str | None = None,
    source_id: int | None = None,
    language: str | None = None,
    template_id: int | None = None,
    question_id: int | None = None,
) -> OutboxMessage:
    """A draft reply to a mention, written through its source (or `source_id`)."""
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    source = await _writable_source(session, source_id or mention.source_id, WriteAction.REPLY)
    if source.kind != mention.platform:
        raise InvalidRequest(
            f"source_id: a {source.kind} source cannot answer on {mention.platform}"
        )
    row = OutboxMessage(
        kind=OutboxKind.REPLY.value,
        status=S.DRAFT.value,
        source_id=source.id,
        mention_id=mention_id,
        question_id=question_id,
        template_id=template_id,
        body=body,
        language=language or mention.language,
        idempotency_key=new_idempotency_key(),
        created_by_id=actor.id,
    )
    session.add(row)
    await session.flush()
    _record(session, row, "create", actor=actor, actor_label=actor_label, kind=row.kind)
    return row


async def create_post(
    session: AsyncSession,
    *,
    source_id: int,
    body: str,
    actor: User,
    title: str | None = None,
    language: str | None = None,
    question_id: int | None = None,
    actor_label: str | None = None,
) -> OutboxMessage:
    """A draft new post (a question to the community) on a source."""
    source = await _writable_source(session, source_id, WriteAction.POST)
    row = OutboxMessage(
        kind=OutboxKind.POST.value,
        status=S.DRAFT.value,
        source_id=source.id,
        question_id=question_id,
        body=body,
        title=title,
        language=language,
        idempotency_key=new_idempotency_key(),
        created_by_id=actor.id,
    )
    session.add(row)
    await session.flush()
    _record(session, row, "create", actor=actor, actor_label=actor_label, kind=row.kind)
    return row


async def edit(
    session: AsyncSession,
    *,
    outbox_id: int,
    version: int,
    actor: User,
    body: str | None = None,
    title: str | None = None,
    actor_label: str | None = None,
) -> OutboxMessage:
    """Change the text of a draft; an approved one goes back to draft (approval is void)."""
    changes: dict[str, Any] = {"approved_by_id": None}
    if body is not None:
        changes["body"] = body
    if title is not None:
        changes["title"] = title
    row, before = await transition(
        session,
        outbox_id=outbox_id,
        to=S.DRAFT,
        allowed_from=[S.DRAFT, S.APPROVED],
        version=version,
        changes=changes,
    )
    _record(session, row, "edit", actor=actor, actor_label=actor_label, before=before)
    return row


async def approve(
    session: AsyncSession,
    *,
    outbox_id: int,
    version: int,
    actor: User,
    actor_label: str | None = None,
) -> OutboxMessage:
    """A second staff member approves a draft (the author cannot approve their own)."""
    current = await get_outbox(session, outbox_id=outbox_id)
    if current.created_by_id == actor.id:
        raise ApprovalRequired("the approval must come from someone other than the writer")
    _require_filled(current)
    row, before = await transition(
        session,
        outbox_id=outbox_id,
        to=S.APPROVED,
        allowed_from=[S.DRAFT],
        version=version,
        changes={"approved_by_id": actor.id},
    )
    _record(session, row, "approve", actor=actor, actor_label=actor_label, before=before)
    return row


def _require_filled(row: OutboxMessage) -> None:
    missing = unfilled_placeholders(row.body) + unfilled_placeholders(row.title or "")
    if missing:
        raise PlaceholdersUnfilled(
            f"fill in {', '.join(missing)} before sending", placeholders=missing
        )


async def schedule(
    session: AsyncSession,
    *,
    outbox_id: int,
    version: int,
    actor: User,
    settings: Settings,
    actor_label: str | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Send: the row leaves when the undo window closes (unless undone before)."""
    current = await get_outbox(session, outbox_id=outbox_id)
    _require_filled(current)
    allowed = [S.DRAFT, S.APPROVED]
    if settings.outbox_require_approval:
        if current.status != S.APPROVED.value:
            raise ApprovalRequired("this team requires an approval by a second staff member")
        allowed = [S.APPROVED]
    leaves_at = (now or utcnow()) + timedelta(seconds=settings.outbox_undo_seconds)
    row, before = await transition(
        session,
        outbox_id=outbox_id,
        to=S.SCHEDULED,
        allowed_from=allowed,
        version=version,
        changes={"scheduled_at": leaves_at, "scheduled_by_id": actor.id, "last_error": None},
    )
    _record(session, row, "schedule", actor=actor, actor_label=actor_label, before=before)
    await record_reply_event(session, REPLY_SCHEDULED, row)
    return row


async def undo(
    session: AsyncSession, *, outbox_id: int, actor: User, actor_label: str | None = None
) -> OutboxMessage:
    """Take a scheduled reply back to draft; once a worker took it, it is too late (409)."""
    row, before = await transition(
        session,
        outbox_id=outbox_id,
        to=S.DRAFT,
        allowed_from=[S.SCHEDULED],
        changes={"scheduled_at": None, "approved_by_id": None},
    )
    _record(session, row, "undo", actor=actor, actor_label=actor_label, before=before)
    return row


async def cancel(
    session: AsyncSession,
    *,
    outbox_id: int,
    actor: User,
    version: int | None = None,
    actor_label: str | None = None,
) -> OutboxMessage:
    """Drop a reply that has not left (draft, approved, scheduled or failed)."""
    row, before = await transition(
        session,
        outbox_id=outbox_id,
        to=S.CANCELLED,
        allowed_from=[S.DRAFT, S.APPROVED, S.SCHEDULED, S.FAILED],
        version=version,
        changes={"scheduled_at": None},
    )
    _record(session, row, "cancel", actor=actor, actor_label=actor_label, before=before)
    return row


async def retry(
    session: AsyncSession,
    *,
    outbox_id: int,
    actor: User,
    version: int | None = None,
    actor_label: str | None = None,
) -> OutboxMessage:
    """Send a failed reply again now (after staff checked the platform, if it was unsure)."""
    current = await get_outbox(session, outbox_id=outbox_id)
    changes: dict[str, Any] = {"scheduled_at": utcnow(), "attempts": 0}
    if current.kind == OutboxKind.POST.value:
        # No thread to look in for a new post: staff looked on the platform and say it is not
        # there. A reply keeps its doubt, so the sender still checks the thread first.
        changes["unsure_since"] = None
    row, before = await transition(
        session,
        outbox_id=outbox_id,
        to=S.SCHEDULED,
        allowed_from=[S.FAILED],
        version=version,
        changes=changes,
    )
    _record(session, row, "retry", actor=actor, actor_label=actor_label, before=before)
    return row

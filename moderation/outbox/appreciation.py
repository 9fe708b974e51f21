"""Appreciation: like, favourite or boost a mention through its platform, and take it back.

The row is written first, under a unique index on (mention, action) among standing ones, so
two moderators clicking at once give one like and one 409; the platform call happens inside
the same transaction and a failure rolls the row back.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.base import WriteAction
from connectors.http import describe_error
from connectors.writes import RuleViolation, WriteError, WriteResult
from listener.events import APPRECIATION_DONE, record_event
from listener.models import Appreciation, Author, Mention, Source, User, utcnow
from listener.settings import Settings
from moderation.outbox.sending import CredentialsMissing, post_ref, writer_and_config
from moderation.outbox.service import NoWriteApi, OutboxConflict, PlatformRule
from moderation.queue import audit
from moderation.queue.errors import NotFound, QueueError

T = TypeVar("T")


class PlatformFailed(QueueError):
    """The platform did not do it; `detail` carries its answer."""

    status = 502
    type_slug = "platform-failed"
    title = "The platform did not accept this"


def _state(row: Appreciation) -> dict[str, object]:
    return {
        "action": row.action,
        "platform_id": row.platform_id,
        "undone": row.undone_at is not None,
    }


async def appreciate(
    session: AsyncSession,
    *,
    mention_id: int,
    action: WriteAction,
    actor: User,
    settings: Settings,
    client: httpx.AsyncClient,
    actor_label: str | None = None,
) -> Appreciation:
    """Like or boost a mention on its platform; recorded on the item and in the audit log."""
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    source = await session.get(Source, mention.source_id)
    try:
        writer, config = writer_and_config(source, settings)
    except CredentialsMissing as exc:
        raise exc.problem() from exc
    except RuleViolation as exc:
        raise NoWriteApi(str(exc)) from exc
    if action not in writer.write_actions:
        raise NoWriteApi(f"{writer.kind} offers no {action.value}", platform=writer.kind)
    row = Appreciation(
        mention_id=mention_id,
        source_id=mention.source_id,
        action=action.value,
        actor_user_id=actor.id,
    )
    session.add(row)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise OutboxConflict(f"mention {mention_id} already has a standing {action.value}") from exc
    author = await session.get(Author, mention.author_id) if mention.author_id else None
    target = post_ref(mention, author, writing_source_id=mention.source_id)
    send = writer.like if action is WriteAction.LIKE else writer.boost
    done = await _call(send(client=client, config=config, target=target))
    row.platform_id = done.platform_id[:512]
    audit.record(
        session,
        action=f"appreciation.{action.value}",
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
        entity="appreciation",
        entity_id=row.id,
        after=_state(row),
    )
    await record_event(
        session,
        APPRECIATION_DONE,
        f"appreciation:{row.id}",
        {"appreciation": {"id": row.id, "action": row.action, "mention_id": mention_id}},
        mention_id=mention_id,
    )
    return row


async def undo_appreciation(
    session: AsyncSession,
    *,
    appreciation_id: int,
    actor: User,
    settings: Settings,
    client: httpx.AsyncClient,
    actor_label: str | None = None,
) -> Appreciation:
    """Take a like or boost back on the platform."""
    row = await session.get(Appreciation, appreciation_id)
    if row is None:
        raise NotFound(f"appreciation {appreciation_id} does not exist")
    if row.undone_at is not None:
        raise OutboxConflict(f"appreciation {appreciation_id} was already taken back")
    mention = await session.get(Mention, row.mention_id)
    assert mention is not None  # appreciations are deleted with their mention
    source = await session.get(Source, row.source_id) if row.source_id else None
    try:
        writer, config = writer_and_config(source, settings)
    except CredentialsMissing as exc:
        raise exc.problem() from exc
    except RuleViolation as exc:
        raise NoWriteApi(str(exc)) from exc
    before = _state(row)
    author = await session.get(Author, mention.author_id) if mention.author_id else None
    target = post_ref(mention, author, writing_source_id=row.source_id)
    done = WriteResult(mention.external_id, row.platform_id or mention.external_id)
    await _call(
        writer.undo(
            client=client, config=config, action=WriteAction(row.action), target=target, done=done
        )
    )
    row.undone_at = utcnow()
    row.undone_by_id = actor.id
    audit.record(
        session,
        action=f"appreciation.undo_{row.action}",
        actor=actor,
        actor_label=actor_label,
        mention_id=row.mention_id,
        entity="appreciation",
        entity_id=row.id,
        before=before,
        after=_state(row),
    )
    return row


async def _call(call: Awaitable[T]) -> T:
    """Await a platform call, turning its failures into problem responses."""
    try:
        return await call
    except RuleViolation as exc:
        raise PlatformRule(str(exc), field=exc.field) from exc
    except WriteError as exc:
        raise PlatformFailed(str(exc), retry_after=exc.retry_after) from exc
    except httpx.HTTPError as exc:
        raise PlatformFailed(describe_error(exc)) from exc


async def list_appreciations(session: AsyncSession, *, mention_id: int) -> list[Appreciation]:
    """A mention's likes and boosts, standing and taken back."""
    rows = await session.execute(
        select(Appreciation).where(Appreciation.mention_id == mention_id).order_by(Appreciation.id)
    )
    return list(rows.scalars())

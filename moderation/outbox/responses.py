"""Responses to mentions, wherever they were given: our reply on the platform, or elsewhere.

A response sets the item to answered (when that is legal from where it stands) and keeps how
long the author waited, from their post to our answer; SLA and response-time reports count it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Mention, Response, Status, User, utcnow
from moderation.queue import audit, workflow
from moderation.queue.errors import InvalidRequest, NotFound


async def record_response(
    session: AsyncSession,
    *,
    mention_id: int,
    kind: str,
    responded_at: datetime,
    actor: User | None,
    outbox_id: int | None = None,
    url: str | None = None,
    note: str | None = None,
) -> Response:
    """Keep a response and move the mention to answered."""
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    waited = max(0, int((responded_at - mention.created_at).total_seconds()))
    response = Response(
        mention_id=mention_id,
        kind=kind,
        outbox_id=outbox_id,
        url=url,
        note=note,
        responded_at=responded_at,
        response_seconds=waited,
        actor_user_id=actor.id if actor is not None else None,
    )
    session.add(response)
    await session.flush()
    where = "on the platform" if kind == "reply" else "elsewhere"
    await workflow.apply_event_status(
        session,
        mention_id=mention_id,
        status=Status.ANSWERED,
        reason=f"answered {where} after {waited} s",
        actor=actor,
    )
    return response


async def mark_answered_elsewhere(
    session: AsyncSession,
    *,
    mention_id: int,
    url: str | None,
    note: str | None,
    actor: User,
    actor_label: str | None = None,
    answered_at: datetime | None = None,
) -> Response:
    """Record that staff answered somewhere Luister cannot post (Hacker News, a blog, email)."""
    now = utcnow()
    at = answered_at or now
    if at > now:
        raise InvalidRequest("answered_at: lies in the future")
    response = await record_response(
        session,
        mention_id=mention_id,
        kind="external",
        responded_at=at,
        actor=actor,
        url=url,
        note=note,
    )
    audit.record(
        session,
        action="answered_elsewhere",
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
        entity="response",
        entity_id=response.id,
        after={"url": url, "note": note, "response_seconds": response.response_seconds},
    )
    return response


async def list_responses(session: AsyncSession, *, mention_id: int) -> list[Response]:
    """A mention's responses, first first."""
    rows = await session.execute(
        select(Response)
        .where(Response.mention_id == mention_id)
        .order_by(Response.responded_at, Response.id)
    )
    return list(rows.scalars())

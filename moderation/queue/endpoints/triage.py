"""Triage one mention: claim it, snooze, escalate or reopen it, tag it, see who else is looking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response, status

from listener.kit import MAX_DB_INT
from listener.rest.deps import Reader, SessionDep, SettingsDep, Triager
from listener.rest.params import IdPath, expected_version
from listener.rest.problems import problem_responses
from moderation.queue import claims, presence, tags, workflow
from moderation.queue.notes import notes_mentioning
from moderation.queue.schemas import NoteOut, QueueStateOut
from moderation.queue.triage_schemas import (
    CallInOut,
    CallInPage,
    ClaimIn,
    ClaimOut,
    EscalateIn,
    PresenceOut,
    ReopenIn,
    SnoozeIn,
    TagCount,
    TagsIn,
    TagsOut,
    ViewerOut,
)

router = APIRouter(prefix="/api/v1", tags=["triage"])

_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 428)


def _etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


@router.get("/mentions/{mention_id}/claim", responses=problem_responses(401, 403, 404))
async def get_claim(mention_id: IdPath, session: SessionDep, _: Reader) -> ClaimOut:
    """Show who holds the claim on a mention, if anyone."""
    return ClaimOut.of(await claims.current_claim(session, mention_id=mention_id))


@router.post("/mentions/{mention_id}/claim", responses=problem_responses(401, 403, 404, 409))
async def claim(
    mention_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
    body: Annotated[ClaimIn | None, Body()] = None,
) -> ClaimOut:
    """Claim a mention (or renew your claim) for a few minutes; 409 while someone else holds it."""
    body = body or ClaimIn()
    held = await claims.claim_item(
        session,
        mention_id=mention_id,
        actor=principal.user,
        actor_label=principal.label,
        minutes=body.minutes or settings.claim_minutes,
        force=body.force,
        version=body.version,
    )
    await session.commit()
    return ClaimOut.of(held)


@router.delete("/mentions/{mention_id}/claim", responses=problem_responses(401, 403, 404, 409))
async def release(
    mention_id: IdPath,
    session: SessionDep,
    principal: Triager,
    force: Annotated[bool, Query(description="Admins only: release someone else's")] = False,
) -> ClaimOut:
    """Release your claim (admins may release anyone's with force)."""
    free = await claims.release_claim(
        session,
        mention_id=mention_id,
        actor=principal.user,
        actor_label=principal.label,
        force=force,
    )
    await session.commit()
    return ClaimOut.of(free)


@router.post("/mentions/{mention_id}/snooze", responses=_WRITE_ERRORS)
async def snooze(
    mention_id: IdPath,
    body: SnoozeIn,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> QueueStateOut:
    """Snooze a mention until a time and/or until its author writes again; it reopens itself."""
    item = await workflow.snooze(
        session,
        mention_id=mention_id,
        version=expected_version(body.version, if_match),
        actor=principal.user,
        actor_label=principal.label,
        until=body.until,
        until_author_writes=body.until_author_writes,
        reason=body.reason,
        force=body.force,
    )
    await session.commit()
    _etag(response, item.version)
    return QueueStateOut.of(item)


@router.post("/mentions/{mention_id}/escalate", responses=_WRITE_ERRORS)
async def escalate(
    mention_id: IdPath,
    body: EscalateIn,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> QueueStateOut:
    """Escalate a mention with a reason."""
    item = await workflow.escalate(
        session,
        mention_id=mention_id,
        version=expected_version(body.version, if_match),
        reason=body.reason,
        actor=principal.user,
        actor_label=principal.label,
        force=body.force,
    )
    await session.commit()
    _etag(response, item.version)
    return QueueStateOut.of(item)


@router.post("/mentions/{mention_id}/reopen", responses=_WRITE_ERRORS)
async def reopen(
    mention_id: IdPath,
    body: ReopenIn,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> QueueStateOut:
    """Reopen a resolved, hidden, spam, answered, escalated or snoozed mention."""
    item = await workflow.reopen(
        session,
        mention_id=mention_id,
        version=expected_version(body.version, if_match),
        actor=principal.user,
        actor_label=principal.label,
        reason=body.reason,
        force=body.force,
    )
    await session.commit()
    _etag(response, item.version)
    return QueueStateOut.of(item)


@router.post("/mentions/{mention_id}/tags", responses=_WRITE_ERRORS)
async def change_tags(
    mention_id: IdPath,
    body: TagsIn,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> TagsOut:
    """Add and remove tags on a mention."""
    item, now_tagged = await tags.change_tags(
        session,
        mention_id=mention_id,
        add=body.add,
        remove=body.remove,
        version=expected_version(body.version, if_match),
        actor=principal.user,
        actor_label=principal.label,
        force=body.force,
    )
    await session.commit()
    _etag(response, item.version)
    return TagsOut(tags=now_tagged, queue=QueueStateOut.of(item))


@router.get("/tags", responses=problem_responses(401, 403))
async def list_tags(session: SessionDep, _: Reader) -> list[TagCount]:
    """List every tag with how many mentions carry it."""
    return [TagCount(name=n, mentions=c) for n, c in await tags.tag_counts(session)]


@router.put("/mentions/{mention_id}/presence", responses=problem_responses(401, 403, 404))
async def heartbeat(
    mention_id: IdPath, session: SessionDep, settings: SettingsDep, principal: Reader
) -> PresenceOut:
    """Say you are viewing a mention (repeat within the TTL); returns everyone viewing it."""
    await presence.heartbeat(
        session,
        mention_id=mention_id,
        user_id=principal.user.id,
        ttl_seconds=settings.presence_ttl_seconds,
    )
    await session.commit()
    return await _viewers(session, mention_id, settings.presence_ttl_seconds)


@router.get("/mentions/{mention_id}/presence", responses=problem_responses(401, 403))
async def viewers(
    mention_id: IdPath, session: SessionDep, settings: SettingsDep, _: Reader
) -> PresenceOut:
    """Show who is viewing a mention now."""
    return await _viewers(session, mention_id, settings.presence_ttl_seconds)


@router.delete(
    "/mentions/{mention_id}/presence",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403),
)
async def leave(mention_id: IdPath, session: SessionDep, principal: Reader) -> None:
    """Say you closed a mention."""
    await presence.leave(session, mention_id=mention_id, user_id=principal.user.id)
    await session.commit()


async def _viewers(session: SessionDep, mention_id: int, ttl: int) -> PresenceOut:
    found = await presence.viewers(session, mention_id=mention_id, ttl_seconds=ttl)
    return PresenceOut(
        mention_id=mention_id, viewers=[ViewerOut.of(v) for v in found], ttl_seconds=ttl
    )


@router.get("/notes/mentioning-me", responses=problem_responses(401, 403))
async def my_call_ins(
    session: SessionDep,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_DB_INT, description="next_before from the previous page")
    ] = None,
) -> CallInPage:
    """List the internal notes that @mention you, newest first."""
    found = await notes_mentioning(
        session, user_id=principal.user.id, limit=limit + 1, before_id=before
    )
    page = found[:limit]
    return CallInPage(
        items=[
            CallInOut(mention_id=c.note.mention_id, note=NoteOut.of(c.note), written_by=c.author)
            for c in page
        ],
        next_before=page[-1].note.id if len(found) > limit else None,
    )

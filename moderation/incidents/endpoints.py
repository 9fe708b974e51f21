"""Incidents (bursts triaged and answered as one) and earlier answers to similar mentions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from listener.kit import decode_id_cursor, encode_cursor
from listener.models import IncidentStatus
from listener.rest.deps import Reader, SessionDep, SettingsDep, Triager
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.incidents import earlier, service
from moderation.incidents.schemas import (
    EarlierAnswerOut,
    IncidentActionOut,
    IncidentDetail,
    IncidentMemberOut,
    IncidentOut,
    IncidentPage,
    IncidentReplyIn,
    IncidentStatusIn,
)

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/incidents", responses=problem_responses(400, 401, 403))
async def list_incidents(
    session: SessionDep,
    _: Reader,
    limit: Limit = 50,
    cursor: str | None = None,
    status: Literal["open", "closed"] | None = None,
) -> IncidentPage:
    """List incidents, newest first, each with its title, times and `mention_count`."""
    rows = await service.list_incidents(
        session,
        limit=limit + 1,
        before_id=decode_id_cursor(cursor),
        status=IncidentStatus(status) if status else None,
    )
    page = rows[:limit]
    return IncidentPage(
        items=[IncidentOut.of(r) for r in page],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
    )


@router.post("/incidents/detect", responses=problem_responses(401, 403))
async def detect_now(session: SessionDep, _: Triager) -> list[IncidentOut]:
    """Look for new bursts now (the periodic job does this every few minutes); new ones."""
    report = await service.detect_incidents(session)
    await session.commit()
    return [
        IncidentOut.of(await service.get_incident(session, incident_id=i)) for i in report.created
    ]


@router.get("/incidents/{incident_id}", responses=problem_responses(401, 403, 404))
async def get_incident(incident_id: IdPath, session: SessionDep, _: Reader) -> IncidentDetail:
    """One incident with its members (oldest first) and their queue states."""
    incident = await service.get_incident(session, incident_id=incident_id)
    members = await service.members(session, incident_id=incident_id)
    return IncidentDetail(
        **IncidentOut.of(incident).model_dump(),
        members=[IncidentMemberOut.of(m) for m in members],
    )


@router.post("/incidents/{incident_id}/status", responses=problem_responses(401, 403, 404))
async def set_incident_status(
    incident_id: IdPath, body: IncidentStatusIn, session: SessionDep, principal: Triager
) -> IncidentActionOut:
    """Move every open member to one queue status; items others hold are skipped, with why."""
    outcome = await service.set_status(
        session,
        incident_id=incident_id,
        status=body.queue_status(),
        reason=body.reason,
        actor=principal.user,
        actor_label=principal.label,
    )
    await session.commit()
    return IncidentActionOut.of(outcome)


@router.post("/incidents/{incident_id}/reply", responses=problem_responses(401, 403, 404, 409))
async def reply_to_incident(
    incident_id: IdPath,
    body: IncidentReplyIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: Triager,
) -> IncidentActionOut:
    """Answer each author once from one template, filled in per author, through the outbox.

    Replies are scheduled (undo window) unless the team requires approval, then they wait as
    drafts. Calling again sends nothing new: authors already answered are listed as skipped.
    """
    outcome = await service.reply_to_incident(
        session,
        incident_id=incident_id,
        template_id=body.template_id,
        values=body.values,
        by_language=body.by_language,
        actor=principal.user,
        actor_label=principal.label,
        settings=settings,
    )
    await session.commit()
    return IncidentActionOut.of(outcome)


@router.post("/incidents/{incident_id}/close", responses=problem_responses(401, 403, 404, 409))
async def close_incident(
    incident_id: IdPath, session: SessionDep, principal: Triager
) -> IncidentOut:
    """Close an incident: it keeps its members and takes in no new ones."""
    incident = await service.close(
        session, incident_id=incident_id, actor=principal.user, actor_label=principal.label
    )
    await session.commit()
    return IncidentOut.of(incident)


@router.post("/incidents/{incident_id}/reopen", responses=problem_responses(401, 403, 404, 409))
async def reopen_incident(
    incident_id: IdPath, session: SessionDep, principal: Triager
) -> IncidentOut:
    """Open a closed incident again, so new similar mentions join it."""
    incident = await service.reopen(
        session, incident_id=incident_id, actor=principal.user, actor_label=principal.label
    )
    await session.commit()
    return IncidentOut.of(incident)


@router.get("/mentions/{mention_id}/earlier-answers", responses=problem_responses(401, 403, 404))
async def earlier_answers(
    mention_id: IdPath,
    session: SessionDep,
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> list[EarlierAnswerOut]:
    """Earlier answered mentions most like this one, with the answer we gave and what followed."""
    found = await earlier.earlier_answers(session, mention_id=mention_id, limit=limit)
    return [EarlierAnswerOut.of(f) for f in found]

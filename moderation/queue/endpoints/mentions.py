"""The moderation queue: list, read and triage mentions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from listener.rest.deps import Reader, SessionDep, SettingsDep, Triager
from listener.rest.params import IdPath, expected_version
from listener.rest.problems import problem_responses
from moderation.queue import workflow
from moderation.queue.listing import get_mention_detail, list_mentions
from moderation.queue.schemas import (
    AssignmentChange,
    MentionDetailOut,
    MentionOut,
    MentionPage,
    NoteCreated,
    NoteIn,
    NoteOut,
    QueueStateOut,
    StatusChange,
)
from moderation.queue.selection import QueueSelection

router = APIRouter(prefix="/api/v1/mentions", tags=["mentions"])


@router.get("", responses=problem_responses(400, 401, 403, 404))
async def list_queue(
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    selection: QueueSelection,
    sort: Annotated[
        Literal["newest", "priority"] | None,
        Query(description="Default newest (or the view's); priority items carry their explanation"),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="Capped at the configured maximum")
    ] = None,
    cursor: str | None = None,
) -> MentionPage:
    """List mentions in the queue, filtered, newest or most urgent first."""
    filters = selection.filters
    if selection.view_sort is not None:
        sort = sort or ("priority" if selection.view_sort == "priority" else "newest")
    page_size = min(limit or settings.page_size_default, settings.page_size_max)
    rows, next_cursor = await list_mentions(
        session, filters=filters, sort=sort or "newest", limit=page_size, cursor=cursor
    )
    return MentionPage(items=[MentionOut.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/{mention_id}", responses=problem_responses(401, 403, 404))
async def get_mention(
    mention_id: IdPath, session: SessionDep, _: Reader, response: Response
) -> MentionDetailOut:
    """Get one mention with its author, thread, notes, topics and history."""
    detail = await get_mention_detail(session, mention_id=mention_id)
    response.headers["ETag"] = f'"{detail.row.item.version}"'
    return MentionDetailOut.of_detail(detail)


@router.post("/{mention_id}/status", responses=problem_responses(401, 403, 404, 409, 428))
async def change_status(
    mention_id: IdPath,
    body: StatusChange,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> QueueStateOut:
    """Move a mention to another status (409 if illegal or your version is stale)."""
    item = await workflow.change_status(
        session,
        mention_id=mention_id,
        status=body.status,
        version=expected_version(body.version, if_match),
        actor=principal.user,
        actor_label=principal.label,
        reason=body.reason,
        force=body.force,
    )
    await session.commit()
    response.headers["ETag"] = f'"{item.version}"'
    return QueueStateOut.of(item)


@router.post("/{mention_id}/assignment", responses=problem_responses(400, 401, 403, 404, 409, 428))
async def assign(
    mention_id: IdPath,
    body: AssignmentChange,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> QueueStateOut:
    """Assign a mention to a staff member, or unassign it with null."""
    item = await workflow.assign(
        session,
        mention_id=mention_id,
        assignee_id=body.assignee_id,
        version=expected_version(body.version, if_match),
        actor=principal.user,
        actor_label=principal.label,
        force=body.force,
    )
    await session.commit()
    response.headers["ETag"] = f'"{item.version}"'
    return QueueStateOut.of(item)


@router.post(
    "/{mention_id}/notes",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 428),
)
async def add_note(
    mention_id: IdPath,
    body: NoteIn,
    session: SessionDep,
    principal: Triager,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> NoteCreated:
    """Add an internal note to a mention."""
    note, item = await workflow.add_note(
        session,
        mention_id=mention_id,
        body=body.body,
        version=expected_version(body.version, if_match),
        actor=principal.user,
        actor_label=principal.label,
        force=body.force,
    )
    await session.commit()
    response.headers["ETag"] = f'"{item.version}"'
    return NoteCreated(note=NoteOut.of(note), queue=QueueStateOut.of(item))

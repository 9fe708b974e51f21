"""The moderation queue: list, read and triage mentions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status

from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant
from listener.models import Status
from listener.rest.deps import Reader, SessionDep, SettingsDep, Triager
from listener.rest.params import IdPath, OptionalIdQuery, expected_version
from listener.rest.problems import problem_responses
from moderation.queue import views, workflow
from moderation.queue.listing import MentionFilter, get_mention_detail, list_mentions
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

router = APIRouter(prefix="/api/v1/mentions", tags=["mentions"])


@router.get("", responses=problem_responses(400, 401, 403, 404))
async def list_queue(
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    source_id: OptionalIdQuery = None,
    platform: str | None = None,
    language: str | None = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    intent: Annotated[str | None, Query(max_length=32, examples=["complaint"])] = None,
    topic: str | None = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    author_id: OptionalIdQuery = None,
    assignee_id: OptionalIdQuery = None,
    unassigned: bool = False,
    mine: Annotated[bool, Query(description="Assigned to me")] = False,
    since: Instant | None = None,
    until: Instant | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text contains")] = None,
    min_priority: Annotated[int | None, Query(ge=0, le=100)] = None,
    breached: Annotated[bool, Query(description="Waiting past the SLA due time")] = False,
    due_within_minutes: Annotated[
        int | None, Query(ge=1, le=7 * 24 * 60, description="SLA due soon, not yet breached")
    ] = None,
    view: Annotated[
        int | None,
        Query(ge=1, le=MAX_DB_INT, description="A saved view's id; other filters narrow it"),
    ] = None,
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
    filters = MentionFilter(
        status=[s.value for s in status_ or []],
        source_id=source_id,
        platform=platform,
        language=language,
        sentiment=sentiment,
        intent=intent,
        topic=topic,
        tag=tag,
        author_id=author_id,
        assignee_id=principal.user.id if mine else assignee_id,
        unassigned=unassigned,
        since=since,
        until=until,
        text=q,
        min_priority=min_priority,
        breached=breached,
        due_within_minutes=due_within_minutes,
    )
    if view is not None:
        saved = await views.get_view(session, view_id=view, user_id=principal.user.id)
        filters = views.mention_filter(saved.filters, user_id=principal.user.id).narrowed_by(
            filters
        )
        sort = sort or ("priority" if saved.sort == "priority" else "newest")
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

"""Exports of the queue: the mentions a filter selects, streamed as CSV, NDJSON or JSONL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant
from listener.models import Status, utcnow
from listener.rest.deps import Reader, SessionDep, SettingsDep
from listener.rest.params import OptionalIdQuery
from listener.rest.problems import ApiProblem, problem_responses
from moderation.queue import export, views
from moderation.queue.listing import MentionFilter

router = APIRouter(prefix="/api/v1/mentions", tags=["mentions"])

_EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export, streamed; saved as an attachment",
        "content": {media: {"schema": {"type": "string"}} for media in export.MEDIA_TYPES.values()},
    }
}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={**problem_responses(401, 403, 404), **_EXPORT_DOC},
)
async def export_mentions(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Reader,
    format: Annotated[
        Literal["csv", "ndjson", "jsonl"],
        Query(description="csv, ndjson, or jsonl (the shape `luister import` reads)"),
    ] = "csv",
    pseudonymise: Annotated[
        bool, Query(description="Authors as keyed hashes; handles, names, URLs and raw left out")
    ] = False,
    x_pseudonym_key: Annotated[
        str | None,
        Header(
            min_length=export.MIN_KEY_BYTES,
            max_length=200,
            description="Your own key: the same pseudonyms in every export made with it",
        ),
    ] = None,
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
) -> StreamingResponse:
    """Export the mentions the queue's filters select (streamed, any size)."""
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
    await session.close()  # the export reads in sessions of its own, batch by batch
    if x_pseudonym_key is not None and not pseudonymise:
        raise ApiProblem(400, "Bad request", "X-Pseudonym-Key: only with pseudonymise=true")
    anon = None
    if pseudonymise:
        anon = (
            export.Pseudonymiser.with_key(x_pseudonym_key)
            if x_pseudonym_key is not None
            else export.Pseudonymiser.derived(settings.secret_bytes())
        )
    name = f"mentions-{utcnow():%Y%m%dT%H%M%SZ}{'-pseudonymised' if anon else ''}.{format}"
    return StreamingResponse(
        export.export(request.app.state.sessions, filters=filters, fmt=format, anon=anon),
        media_type=export.MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )

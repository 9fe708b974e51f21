"""Exports of the queue: the mentions a filter selects, streamed as CSV, NDJSON or JSONL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from listener.models import utcnow
from listener.rest.deps import Reader, SessionDep, SettingsDep
from listener.rest.problems import ApiProblem, problem_responses
from moderation.queue import export
from moderation.queue.selection import QueueSelection

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
    selection: QueueSelection,
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
) -> StreamingResponse:
    """Export the mentions the queue's filters select (streamed, any size)."""
    filters = selection.filters
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

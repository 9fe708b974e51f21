"""The live stream of the event log, as Server-Sent Events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from listener.kit import MAX_DB_INT
from listener.rest.deps import Reader
from listener.rest.problems import ApiProblem, problem_responses
from listener.stream.service import BadTypes, TypeFilter, event_stream

router = APIRouter(prefix="/api/v1/events", tags=["events"])

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Server-Sent Events stream: `id`, `event` (the type) and `data` (JSON)",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _event_id(value: str | None, name: str) -> int | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not value.isdigit() or int(value) > MAX_DB_INT:
        raise ApiProblem(400, "Bad request", f"{name}: expected an event id such as 42")
    return int(value)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={**problem_responses(401, 403), **_SSE_DOC},
)
async def stream_events(
    request: Request,
    _: Reader,
    types: Annotated[
        list[str] | None,
        Query(
            max_length=20,
            description="Event types, comma separated or repeated; `mention.*` matches a prefix",
            examples=["mention.created,alert.*"],
        ),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            max_length=20, description="Resume after this event id (for clients without headers)"
        ),
    ] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Stream events as they are written; resume with Last-Event-ID."""
    try:
        wanted = TypeFilter.parse(types)
    except BadTypes as exc:
        raise ApiProblem(400, "Bad request", str(exc)) from exc
    # The header is what EventSource sends on reconnect: it wins over the query.
    resume = _event_id(last_event_id, "Last-Event-ID")
    if resume is None:
        resume = _event_id(after, "after")
    # `luister serve` puts its uvicorn server here: streams end as soon as it is told to stop.
    server = getattr(request.app.state, "server", None)
    return StreamingResponse(
        event_stream(
            request.app.state.sessions,
            after=resume,
            types=wanted,
            stopping=lambda: bool(getattr(server, "should_exit", False)),
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""The audit log: every action, who, when, before and after; per item, user or time range."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant
from listener.rest.deps import Reader, SessionDep, SettingsDep
from listener.rest.params import OptionalIdQuery
from listener.rest.problems import problem_responses
from moderation.queue.audit import AuditFilter, export_csv, list_audit
from moderation.queue.schemas import AuditOut

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


class AuditPage(BaseModel):
    """One page of the audit log, newest first; pass `next_cursor` back as `cursor`."""

    items: list[AuditOut]
    next_cursor: str | None


def _filter(
    mention_id: int | None = None,
    user_id: Annotated[int | None, Query(description="Who acted")] = None,
    entity: Annotated[str | None, Query(max_length=32, examples=["mention"])] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["status"])] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilter:
    return AuditFilter(
        mention_id=mention_id,
        actor_user_id=user_id,
        entity=entity,
        entity_id=entity_id,
        action=action,
        since=since,
        until=until,
    )


@router.get("", responses=problem_responses(400, 401, 403))
async def audit_log(
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    mention_id: OptionalIdQuery = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT, description="Who acted")] = None,
    entity: Annotated[str | None, Query(max_length=32, examples=["mention"])] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["status"])] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
) -> AuditPage:
    """Read the audit log for an item, a user or a time range, newest first."""
    rows, next_cursor = await list_audit(
        session,
        filters=_filter(mention_id, user_id, entity, entity_id, action, since, until),
        limit=min(limit or settings.page_size_default, settings.page_size_max),
        cursor=cursor,
    )
    return AuditPage(items=[AuditOut.of(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={**_CSV, **problem_responses(401, 403)},
)
async def export_audit(
    request: Request,
    _: Reader,
    mention_id: OptionalIdQuery = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT, description="Who acted")] = None,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> StreamingResponse:
    """Export the matching audit entries as CSV, oldest first."""
    filters = _filter(mention_id, user_id, entity, entity_id, action, since, until)

    async def _lines() -> AsyncIterator[str]:
        # The stream outlives the request's session dependency: open one for the export.
        async with request.app.state.sessions() as session:
            async for line in export_csv(session, filters=filters):
                yield line

    return StreamingResponse(
        _lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="luister-audit.csv"'},
    )

"""Digests, recipient lists and the event feed for integrations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse, PlainTextResponse
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest import service
from listener.digest.builder import build_digest
from listener.digest.document import DigestDocument
from listener.digest.periods import Period, PeriodError, parse_period
from listener.digest.query import MentionFilter
from listener.digest.render import render
from listener.digest.schemas import (
    DeliveryOut,
    DigestBuildIn,
    DigestOut,
    DigestPage,
    DigestPreviewQuery,
    DigestSummary,
    EventOut,
    EventPage,
    RecipientListIn,
    RecipientListOut,
    RecipientListUpdate,
    SendIn,
)
from listener.kit import MAX_DB_INT, decode_id_cursor, encode_cursor
from listener.models import Digest, utcnow
from listener.rest.deps import Admin, Reader, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.rest.problems import ApiProblem, problem_responses
from listener.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["digests"])

Format = Literal["json", "md", "html"]
Limit = Annotated[int, Query(ge=1, le=200)]


def _period(settings: Settings, body: DigestBuildIn) -> Period:
    try:
        return parse_period(
            week=body.week,
            first=body.first_day,
            last=body.last_day,
            timezone=body.timezone or settings.digest_timezone,
            now=utcnow(),
        )
    except PeriodError as exc:
        raise ApiProblem(422, "Invalid period", str(exc), slug="invalid-period") from exc


_HTML_POLICY = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
}


def _formatted(data: DigestDocument, fmt: Format, language: str) -> Response | None:
    if fmt == "md":
        return PlainTextResponse(render(data, "md", language), media_type="text/markdown")
    if fmt == "html":
        # Mention text is escaped already; the policy is a second wall (no scripts, no fetches).
        return HTMLResponse(render(data, "html", language), headers=_HTML_POLICY)
    return None


async def _digest_out(session: AsyncSession, digest: Digest) -> DigestOut:
    counts = await service.delivery_counts(session, digest_ids=[digest.id])
    return DigestOut(
        **DigestSummary.of(digest, counts[digest.id]).model_dump(),
        data=DigestDocument.model_validate(digest.data),
    )


_FORMAT_DOC = "json (default), md (text/markdown) or html (one page with its charts embedded)"
_FORMATTED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": _FORMAT_DOC,
        "content": {
            "text/markdown": {"schema": {"type": "string"}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/digests", responses=problem_responses(400, 401, 403))
async def list_digests(
    session: SessionDep, _: Reader, limit: Limit = 20, cursor: str | None = None
) -> DigestPage:
    """List stored digests, newest first, with how their emails are doing."""
    digests = await service.list_digests(
        session, limit=limit + 1, before_id=decode_id_cursor(cursor)
    )
    page, more = digests[:limit], len(digests) > limit
    counts = await service.delivery_counts(session, digest_ids=[d.id for d in page])
    return DigestPage(
        items=[DigestSummary.of(d, counts[d.id]) for d in page],
        next_cursor=encode_cursor(page[-1].id) if more else None,
    )


@router.get(
    "/digests/preview",
    responses={**problem_responses(401, 403, 422), **_FORMATTED},
)
async def preview_digest(
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    body: Annotated[DigestPreviewQuery, Query()],
) -> Response:
    """Build a digest without storing it, in JSON, Markdown or HTML."""
    period = _period(settings, body)
    filt = MentionFilter.of(
        topics=body.topics, sources=body.sources, languages=body.languages, query=body.query
    )
    data = await build_digest(
        session,
        period=period,
        filt=filt,
        language=body.language,
        target_hours=settings.digest_response_target_hours,
    )
    return _formatted(data, body.format, body.language) or Response(
        render(data, "json", body.language), media_type="application/json"
    )


@router.post(
    "/digests",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def build_and_store_digest(
    body: DigestBuildIn, session: SessionDep, settings: SettingsDep, principal: Admin
) -> DigestOut:
    """Build and store a digest; building the same one again refreshes it."""
    period = _period(settings, body)
    chosen = None
    if body.recipient_list_id is not None:
        chosen = await service.get_list(session, list_id=body.recipient_list_id)
    digest = await service.store_digest(
        session,
        period=period,
        settings=settings,
        recipient_list=chosen,
        language=body.language,
        filt=MentionFilter.of(
            topics=body.topics, sources=body.sources, languages=body.languages, query=body.query
        ),
        actor=principal.label,
        actor_user_id=principal.user.id,
    )
    await session.commit()
    return await _digest_out(session, digest)


@router.get(
    "/digests/{digest_id}",
    response_model=DigestOut,
    responses={**problem_responses(401, 403, 404), **_FORMATTED},
)
async def get_digest(
    digest_id: IdPath, session: SessionDep, _: Reader, format: Format = "json"
) -> Response | DigestOut:
    """Get one stored digest: every section as JSON, or rendered as Markdown or HTML."""
    digest = await service.get_digest(session, digest_id=digest_id)
    rendered = _formatted(DigestDocument.model_validate(digest.data), format, digest.language)
    if rendered is not None:
        return rendered
    return await _digest_out(session, digest)


@router.post(
    "/digests/{digest_id}/send",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409),
)
async def send_digest(
    digest_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    principal: Admin,
    body: SendIn | None = None,
) -> list[DeliveryOut]:
    """Queue a stored digest's emails; the runner or a worker sends them within a minute."""
    body = body or SendIn()
    digest = await service.get_digest(session, digest_id=digest_id)
    list_id = body.recipient_list_id or digest.recipient_list_id
    if list_id is None:
        raise ApiProblem(
            409,
            "No recipients",
            "this digest was not built for a list; pass recipient_list_id",
            slug="no-recipients",
        )
    chosen = await service.get_list(session, list_id=list_id)
    await service.queue_digest(
        session,
        digest=digest,
        recipient_list=chosen,
        settings=settings,
        force=body.force,
        actor=principal.label,
        actor_user_id=principal.user.id,
    )
    reason = digest.skipped_reason
    await session.commit()
    if reason is not None:
        raise ApiProblem(409, "Not sent", reason, slug="not-sent")
    return [DeliveryOut.of(d) for d in await service.deliveries_of(session, digest_ids=[digest_id])]


@router.get("/digests/{digest_id}/deliveries", responses=problem_responses(401, 403, 404))
async def list_deliveries(digest_id: IdPath, session: SessionDep, _: Admin) -> list[DeliveryOut]:
    """The emails of a digest: status, attempts, last error and next attempt."""
    await service.get_digest(session, digest_id=digest_id)
    return [DeliveryOut.of(d) for d in await service.deliveries_of(session, digest_ids=[digest_id])]


@router.get("/recipient-lists", responses=problem_responses(401, 403))
async def list_recipient_lists(session: SessionDep, _: Admin) -> list[RecipientListOut]:
    """List recipient lists (admins only: they hold people's addresses)."""
    return [RecipientListOut.of(rl) for rl in await service.all_lists(session)]


@router.post(
    "/recipient-lists",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_recipient_list(
    body: RecipientListIn, session: SessionDep, principal: Admin
) -> RecipientListOut:
    """Add a recipient list; 409 if the name is taken."""
    rl = await service.create_list(
        session,
        values=body.model_dump(),
        actor=principal.label,
        actor_user_id=principal.user.id,
    )
    await session.commit()
    return RecipientListOut.of(rl)


@router.get("/recipient-lists/{list_id}", responses=problem_responses(401, 403, 404))
async def get_recipient_list(list_id: IdPath, session: SessionDep, _: Admin) -> RecipientListOut:
    """Get one recipient list."""
    return RecipientListOut.of(await service.get_list(session, list_id=list_id))


@router.patch("/recipient-lists/{list_id}", responses=problem_responses(401, 403, 404, 409, 422))
async def update_recipient_list(
    list_id: IdPath, body: RecipientListUpdate, session: SessionDep, principal: Admin
) -> RecipientListOut:
    """Change a recipient list."""
    rl = await service.update_list(
        session,
        list_id=list_id,
        changes=body.model_dump(exclude_unset=True),
        actor=principal.label,
        actor_user_id=principal.user.id,
    )
    await session.commit()
    return RecipientListOut.of(rl)


@router.delete(
    "/recipient-lists/{list_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def delete_recipient_list(list_id: IdPath, session: SessionDep, principal: Admin) -> Response:
    """Remove a recipient list; its past digests and deliveries stay."""
    await service.delete_list(
        session, list_id=list_id, actor=principal.label, actor_user_id=principal.user.id
    )
    await session.commit()
    return Response(status_code=204)


@router.get("/integration-events", responses=problem_responses(401, 403))
async def list_events(
    session: SessionDep,
    _: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
    limit: Limit = 100,
) -> EventPage:
    """Events after id `after`, oldest first: poll with the last `next_after` you saw."""
    events = await service.events_after(session, after=after, limit=limit)
    items = [EventOut.of(e) for e in events]
    return EventPage(items=items, next_after=items[-1].id if items else after)

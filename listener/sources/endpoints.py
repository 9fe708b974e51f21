"""Sources: what Luister listens to, and how each source is doing."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import func, select

from connectors.registry import get_connector, list_kinds
from listener.models import Mention, utcnow
from listener.rest.deps import Admin, Reader, SessionDep
from listener.rest.params import IdPath
from listener.rest.problems import ApiProblem, problem_responses
from listener.sources import service
from listener.sources.schemas import KindOut, PauseIn, SourceIn, SourceOut, SourceUpdate

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


def _not_found(exc: Exception) -> ApiProblem:
    return ApiProblem(404, "Not found", str(exc), slug="not-found")


def _invalid(exc: Exception) -> ApiProblem:
    return ApiProblem(422, "Invalid source", str(exc), slug="invalid-source")


async def _out(session: SessionDep, source_id: int) -> SourceOut:
    try:
        [found] = await service.source_statuses(session, source_id=source_id)
    except service.SourceNotFound as exc:
        raise _not_found(exc) from exc
    return SourceOut.of(found)


@router.get("/kinds", responses=problem_responses(401, 403))
async def list_source_kinds(_: Reader) -> list[KindOut]:
    """List the kinds of source and each connector's settings."""
    kinds = []
    for kind in list_kinds():
        connector = get_connector(kind)
        kinds.append(
            KindOut(
                kind=kind,
                write_actions=sorted(str(a) for a in connector.write_actions),
                config_schema=connector.config_model.model_json_schema(),
            )
        )
    return kinds


@router.get("", responses=problem_responses(401, 403))
async def list_sources(session: SessionDep, _: Reader) -> list[SourceOut]:
    """List sources with their health and counts."""
    return [SourceOut.of(s) for s in await service.source_statuses(session)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 422))
async def create_source(
    body: SourceIn, session: SessionDep, _: Admin, request: Request
) -> SourceOut:
    """Add a source; it is polled within one tick."""
    try:
        source = await service.create_source(
            session,
            kind=body.kind,
            name=body.name,
            config=body.config,
            key=request.app.state.token_key,
            poll_interval_seconds=body.poll_interval_seconds,
        )
    except service.SourceError as exc:
        raise _invalid(exc) from exc
    await session.commit()
    return await _out(session, source.id)


@router.get("/{source_id}", responses=problem_responses(401, 403, 404))
async def get_source(source_id: IdPath, session: SessionDep, _: Reader) -> SourceOut:
    """Get one source: settings (credentials masked), last poll, errors and counts."""
    return await _out(session, source_id)


@router.patch("/{source_id}", responses=problem_responses(401, 403, 404, 422))
async def update_source(
    source_id: IdPath, body: SourceUpdate, session: SessionDep, _: Admin, request: Request
) -> SourceOut:
    """Change a source; masked credentials ("********") keep their stored value."""
    try:
        await service.update_source(
            session,
            source_id=source_id,
            key=request.app.state.token_key,
            name=body.name,
            config=body.config,
            poll_interval_seconds=body.poll_interval_seconds,
        )
    except service.SourceNotFound as exc:
        raise _not_found(exc) from exc
    except service.SourceError as exc:
        raise _invalid(exc) from exc
    await session.commit()
    return await _out(session, source_id)


@router.post("/{source_id}/pause", responses=problem_responses(401, 403, 404))
async def pause_source(
    source_id: IdPath, session: SessionDep, _: Admin, body: PauseIn | None = None
) -> SourceOut:
    """Stop polling a source until it is resumed."""
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound as exc:
        raise _not_found(exc) from exc
    service.pause(source, (body or PauseIn()).reason)
    await session.commit()
    return await _out(session, source_id)


@router.post("/{source_id}/resume", responses=problem_responses(401, 403, 404))
async def resume_source(source_id: IdPath, session: SessionDep, _: Admin) -> SourceOut:
    """Poll a paused source again, starting now."""
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound as exc:
        raise _not_found(exc) from exc
    service.resume(source)
    await session.commit()
    return await _out(session, source_id)


@router.post(
    "/{source_id}/poll",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409),
)
async def poll_now(source_id: IdPath, session: SessionDep, _: Admin) -> SourceOut:
    """Ask for a poll as soon as possible (the runner or a worker picks it up)."""
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound as exc:
        raise _not_found(exc) from exc
    if source.paused_reason is not None or not source.enabled:
        raise ApiProblem(
            409, "Source paused", f"resume it first ({source.paused_reason})", slug="paused"
        )
    source.next_poll_at = utcnow()
    await session.commit()
    return await _out(session, source_id)


@router.delete(
    "/{source_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_source(
    source_id: IdPath, session: SessionDep, _: Admin, purge: bool = False
) -> Response:
    """Delete a source; with its mentions only when `purge=true`."""
    try:
        source = await service.get_source(session, source_id=source_id)
    except service.SourceNotFound as exc:
        raise _not_found(exc) from exc
    count = (
        await session.execute(select(func.count(Mention.id)).where(Mention.source_id == source_id))
    ).scalar_one()
    if count and not purge:
        raise ApiProblem(
            409,
            "Source has mentions",
            f"{count} mentions came from this source; pause it, or delete with purge=true "
            "to remove them too",
            slug="source-has-mentions",
        )
    await session.delete(source)
    await session.commit()
    return Response(status_code=204)

"""Saved views: named filters of the queue, personal or shared, with live counts."""

from __future__ import annotations

from fastapi import APIRouter, status

from listener.models import SavedView
from listener.rest.deps import Reader, SessionDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.queue import views
from moderation.queue.listing import count_mentions
from moderation.queue.triage_schemas import ViewIn, ViewOut, ViewPatch

router = APIRouter(prefix="/api/v1/views", tags=["views"])


async def _out(session: SessionDep, view: SavedView, user_id: int) -> ViewOut:
    count, capped = await count_mentions(
        session, filters=views.mention_filter(view.filters, user_id=user_id)
    )
    return ViewOut.of(view, count=count, capped=capped)


@router.get("", responses=problem_responses(401, 403))
async def list_views(session: SessionDep, principal: Reader) -> list[ViewOut]:
    """List your views and the shared ones, each with how many mentions it holds now."""
    found = await views.list_views(session, user_id=principal.user.id)
    return [await _out(session, v, principal.user.id) for v in found]


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422)
)
async def create_view(body: ViewIn, session: SessionDep, principal: Reader) -> ViewOut:
    """Save a named filter (sharing it with the team needs an admin)."""
    view = await views.create_view(
        session,
        owner=principal.user,
        name=body.name,
        filters=body.filters.stored(),
        sort=body.sort,
        shared=body.shared,
    )
    await session.commit()
    return await _out(session, view, principal.user.id)


@router.get("/{view_id}", responses=problem_responses(401, 403, 404))
async def get_view(view_id: IdPath, session: SessionDep, principal: Reader) -> ViewOut:
    """Get one view with its count; list its mentions with GET /api/v1/mentions?view=ID."""
    view = await views.get_view(session, view_id=view_id, user_id=principal.user.id)
    return await _out(session, view, principal.user.id)


@router.patch("/{view_id}", responses=problem_responses(401, 403, 404, 409, 422))
async def update_view(
    view_id: IdPath, body: ViewPatch, session: SessionDep, principal: Reader
) -> ViewOut:
    """Rename, refilter or resort your view (admins: any view, and sharing)."""
    changes = body.model_dump(exclude_unset=True)
    if body.filters is not None:
        changes["filters"] = body.filters.stored()
    view = await views.update_view(session, view_id=view_id, actor=principal.user, changes=changes)
    await session.commit()
    return await _out(session, view, principal.user.id)


@router.delete(
    "/{view_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404)
)
async def delete_view(view_id: IdPath, session: SessionDep, principal: Reader) -> None:
    """Delete your view (admins: any view)."""
    await views.delete_view(session, view_id=view_id, actor=principal.user)
    await session.commit()

"""Saved views: named queue filters, personal or shared, with counts (Chatwoot's custom filters).

A view stores the filter as JSON; "mine" is kept symbolic so a shared "assigned to me" view
means each viewer's own items. Time-relative filters (breached, due within N minutes) are
evaluated when the view is opened, not when it was saved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Role, SavedView, User, utcnow
from moderation.queue import audit
from moderation.queue.errors import Conflict, InvalidRequest, NotFound, NotPermitted
from moderation.queue.listing import MentionFilter

MAX_VIEWS_PER_USER = 50  # Chatwoot caps custom filters at 50 per user too
_DATETIME_KEYS = ("since", "until")


def mention_filter(filters: dict[str, Any], *, user_id: int) -> MentionFilter:
    """The queue filter a stored view means for `user_id`."""
    values = {k: v for k, v in filters.items() if k in MentionFilter.__dataclass_fields__}
    for key in _DATETIME_KEYS:
        if isinstance(values.get(key), str):
            try:
                moment = datetime.fromisoformat(values[key])
            except ValueError:
                values.pop(key)  # a view saved before dates were checked: drop what cannot be read
                continue
            # Views saved before every input carried its zone hold naive times: read them as UTC.
            values[key] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if filters.get("mine"):
        values["assignee_id"] = user_id
        values["unassigned"] = False
    return MentionFilter(**values)


def _visible(user_id: int) -> Any:
    return or_(SavedView.owner_id == user_id, SavedView.shared.is_(True))


async def list_views(session: AsyncSession, *, user_id: int) -> list[SavedView]:
    """The caller's own views and the shared ones, by name."""
    rows = await session.execute(
        select(SavedView).where(_visible(user_id)).order_by(SavedView.name, SavedView.id)
    )
    return list(rows.scalars())


async def get_view(session: AsyncSession, *, view_id: int, user_id: int) -> SavedView:
    """A view the caller may use (their own or a shared one)."""
    view = await session.get(SavedView, view_id)
    if view is None or not (view.owner_id == user_id or view.shared):
        raise NotFound(f"view {view_id} does not exist")
    return view


def _check_shared(actor: User, shared: bool) -> None:
    if shared and actor.role != Role.ADMIN.value:
        raise NotPermitted("shared: only an admin may share a view with the whole team")


def _state(view: SavedView) -> dict[str, Any]:
    return {"name": view.name, "filters": view.filters, "sort": view.sort, "shared": view.shared}


async def create_view(
    session: AsyncSession,
    *,
    owner: User,
    name: str,
    filters: dict[str, Any],
    sort: str,
    shared: bool,
) -> SavedView:
    """Save a named filter for `owner` (shared ones need an admin)."""
    _check_shared(owner, shared)
    count = (
        await session.execute(
            select(func.count()).select_from(SavedView).where(SavedView.owner_id == owner.id)
        )
    ).scalar_one()
    if count >= MAX_VIEWS_PER_USER:
        raise Conflict(f"you already have {MAX_VIEWS_PER_USER} views; delete one first")
    view = SavedView(owner_id=owner.id, name=name, filters=filters, sort=sort, shared=shared)
    session.add(view)
    await _flush_unique(session, name)
    audit.record(
        session,
        action="view_create",
        actor=owner,
        entity="view",
        entity_id=view.id,
        after=_state(view),
    )
    return view


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"name: you already have a view called {name!r}") from exc


async def _owned(session: AsyncSession, *, view_id: int, actor: User) -> SavedView:
    view = await get_view(session, view_id=view_id, user_id=actor.id)
    if view.owner_id != actor.id and actor.role != Role.ADMIN.value:
        raise NotPermitted(f"view {view_id} belongs to someone else; only an admin may change it")
    return view


async def update_view(
    session: AsyncSession, *, view_id: int, actor: User, changes: dict[str, Any]
) -> SavedView:
    """Rename, refilter, resort or (admins) share or unshare a view."""
    unknown = set(changes) - {"name", "filters", "sort", "shared"}
    if unknown:
        raise InvalidRequest(f"cannot change {', '.join(sorted(unknown))}")
    view = await _owned(session, view_id=view_id, actor=actor)
    if "shared" in changes and changes["shared"] != view.shared:
        _check_shared(actor, True)
    before = _state(view)
    for key, value in changes.items():
        setattr(view, key, value)
    view.updated_at = utcnow()
    await _flush_unique(session, view.name)
    audit.record(
        session,
        action="view_update",
        actor=actor,
        entity="view",
        entity_id=view.id,
        before=before,
        after=_state(view),
    )
    return view


async def delete_view(session: AsyncSession, *, view_id: int, actor: User) -> None:
    """Delete a view (the owner's, or any as admin)."""
    view = await _owned(session, view_id=view_id, actor=actor)
    before = _state(view)
    await session.delete(view)
    await session.flush()
    audit.record(
        session,
        action="view_delete",
        actor=actor,
        entity="view",
        entity_id=view_id,
        before=before,
    )

"""The audit screen: who did what, when, from which state to which; filtered and paged.

It reads the log through the same service as `GET /api/v1/audit` and asks the same scope (any
signed-in reader): filters by person, action, kind of thing, item and time, newest first, one
page at a time with the service's cursor. Nothing here writes.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api.desk.render import render
from api.desk.screens.common import desk_router
from api.desk.session import DeskDep
from listener.kit import MAX_DB_INT, BadCursor
from listener.models import AuditEntry, User
from listener.rest.deps import SessionDep
from moderation.queue.audit import AuditFilter, list_audit

router = desk_router()

PAGE_SIZE = 50
#: How many distinct actions and entities the filter lists offer.
_CHOICES = 200


def _day(value: str, field: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = "audit.error.date"
        return None


def _whole_number(value: str, field: str, errors: dict[str, str]) -> int | None:
    if not value:
        return None
    if value.isdigit() and 0 < len(value) <= 10 and 0 < int(value) <= MAX_DB_INT:
        return int(value)
    errors[field] = "audit.error.number"
    return None


def _compact(data: dict[str, Any] | None) -> str:
    """A state as one line of JSON (shown as text, never as markup)."""
    if not data:
        return ""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


async def _choices(session: SessionDep) -> dict[str, Any]:
    users = (await session.execute(select(User.id, User.username).order_by(User.username))).all()
    actions = (
        await session.execute(
            select(AuditEntry.action)
            .group_by(AuditEntry.action)
            .order_by(AuditEntry.action)
            .limit(_CHOICES)
        )
    ).scalars()
    entities = (
        await session.execute(
            select(AuditEntry.entity)
            .group_by(AuditEntry.entity)
            .order_by(AuditEntry.entity)
            .limit(_CHOICES)
        )
    ).scalars()
    return {
        "users": [{"id": u.id, "name": u.username} for u in users],
        "actions": list(actions),
        "entities": list(entities),
    }


@router.get("/audit")
async def audit_page(
    desk: DeskDep,
    session: SessionDep,
    user: str = "",
    action: str = "",
    entity: str = "",
    mention: str = "",
    since: str = "",
    until: str = "",
    cursor: str = "",
) -> HTMLResponse:
    """The audit log, newest first, filtered by who, what and when."""
    errors: dict[str, str] = {}
    user_id = _whole_number(user.strip(), "user", errors)
    mention_id = _whole_number(mention.strip(), "mention", errors)
    first, last = _day(since.strip(), "since", errors), _day(until.strip(), "until", errors)
    if first and last and last < first:
        errors["until"] = "audit.error.order"
    if last is not None and last >= date.max:
        errors["until"] = "audit.error.date"
        last = None
    action, entity = action.strip()[:64], entity.strip()[:32]
    filters = AuditFilter(
        mention_id=mention_id,
        actor_user_id=user_id,
        action=action or None,
        entity=entity or None,
        since=datetime.combine(first, time(0), tzinfo=UTC) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC) if last else None,
    )
    entries: list[AuditEntry] = []
    next_cursor: str | None = None
    if not errors:
        try:
            entries, next_cursor = await list_audit(
                session, filters=filters, limit=PAGE_SIZE, cursor=cursor or None
            )
        except BadCursor:
            errors["cursor"] = "audit.error.cursor"
    query = {
        "user": user.strip(),
        "action": action,
        "entity": entity,
        "mention": mention.strip(),
        "since": since.strip(),
        "until": until.strip(),
    }
    rows = [
        {
            "entry": e,
            "before": _compact(e.before),
            "after": _compact(e.after),
        }
        for e in entries
    ]
    context = {
        "rows": rows,
        "query": query,
        "filtered": any(query.values()),
        "errors": errors,
        "next_cursor": next_cursor,
        "paged": bool(cursor),
        **await _choices(session),
    }
    return render(desk, "audit/page.html", context)

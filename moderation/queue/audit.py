"""The audit log: who did what, when, from which state to which; queryable and exportable."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit import BadCursor, decode_cursor, encode_cursor, is_db_int
from listener.models import AuditEntry, User

SYSTEM_ACTOR = "system"


def record(
    session: AsyncSession,
    *,
    action: str,
    actor: User | None,
    actor_label: str | None = None,
    mention_id: int | None = None,
    entity: str = "mention",
    entity_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_user_id: int | None = None,
) -> AuditEntry:
    """Add one audit entry to the session (no actor at all means Luister itself did it)."""
    entry = AuditEntry(
        mention_id=mention_id,
        entity=entity,
        entity_id=str(entity_id if entity_id is not None else mention_id),
        action=action,
        actor_user_id=actor.id if actor is not None else actor_user_id,
        actor=actor_label or (actor.username if actor is not None else SYSTEM_ACTOR),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


@dataclass
class AuditFilter:
    """Which entries to read; every field is optional."""

    mention_id: int | None = None
    actor_user_id: int | None = None
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _conditions(f: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.mention_id is not None:
        where.append(AuditEntry.mention_id == f.mention_id)
    if f.actor_user_id is not None:
        where.append(AuditEntry.actor_user_id == f.actor_user_id)
    if f.entity:
        where.append(AuditEntry.entity == f.entity)
    if f.entity_id:
        where.append(AuditEntry.entity_id == f.entity_id)
    if f.action:
        where.append(AuditEntry.action == f.action)
    if f.since is not None:
        where.append(AuditEntry.created_at >= f.since)
    if f.until is not None:
        where.append(AuditEntry.created_at < f.until)
    return where


def _encode(entry: AuditEntry) -> str:
    return encode_cursor([entry.created_at.isoformat(), entry.id])


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        at, entry_id = decode_cursor(cursor)
        if not is_db_int(entry_id):
            raise ValueError("bad id")
        return datetime.fromisoformat(at), entry_id
    except (BadCursor, ValueError, TypeError) as exc:
        raise BadCursor("cursor: not a cursor the audit log handed out") from exc


async def list_audit(
    session: AsyncSession, *, filters: AuditFilter, limit: int, cursor: str | None = None
) -> tuple[list[AuditEntry], str | None]:
    """One page of entries, newest first, and the cursor for the next page."""
    where = _conditions(filters)
    if cursor:
        at, entry_id = _decode(cursor)
        where.append(
            or_(
                AuditEntry.created_at < at,
                and_(AuditEntry.created_at == at, AuditEntry.id < entry_id),
            )
        )
    rows = list(
        (
            await session.execute(
                select(AuditEntry)
                .where(*where)
                .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
                .limit(limit + 1)
            )
        ).scalars()
    )
    next_cursor = _encode(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


CSV_COLUMNS = (
    "id",
    "created_at",
    "actor",
    "actor_user_id",
    "action",
    "entity",
    "entity_id",
    "mention_id",
    "before",
    "after",
)


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


async def export_csv(
    session: AsyncSession, *, filters: AuditFilter, chunk: int = 1000
) -> AsyncIterator[str]:
    """The matching entries as CSV lines (header first), oldest first, read in chunks."""
    yield _csv_line(list(CSV_COLUMNS))
    where = _conditions(filters)
    after: tuple[datetime, int] | None = None
    while True:
        page_where = list(where)
        if after is not None:
            page_where.append(
                or_(
                    AuditEntry.created_at > after[0],
                    and_(AuditEntry.created_at == after[0], AuditEntry.id > after[1]),
                )
            )
        rows = list(
            (
                await session.execute(
                    select(AuditEntry)
                    .where(*page_where)
                    .order_by(AuditEntry.created_at, AuditEntry.id)
                    .limit(chunk)
                )
            ).scalars()
        )
        for e in rows:
            yield _csv_line(
                [
                    e.id,
                    e.created_at.isoformat(),
                    e.actor,
                    e.actor_user_id if e.actor_user_id is not None else "",
                    e.action,
                    e.entity,
                    e.entity_id,
                    e.mention_id if e.mention_id is not None else "",
                    json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                    json.dumps(e.after, sort_keys=True) if e.after is not None else "",
                ]
            )
        if len(rows) < chunk:
            return
        after = (rows[-1].created_at, rows[-1].id)

"""Audit entries for digest, recipient-list, delivery and alert changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import AuditEntry

# The actor recorded when the scheduler, a worker or the alert check changes something.
SYSTEM_ACTOR = "luister"


def record(
    session: AsyncSession,
    *,
    entity: str,
    entity_id: int | str,
    action: str,
    actor: str = SYSTEM_ACTOR,
    actor_user_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit entry to the session (written with the change it describes)."""
    session.add(
        AuditEntry(
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            actor=actor,
            actor_user_id=actor_user_id,
            before=before,
            after=after,
        )
    )

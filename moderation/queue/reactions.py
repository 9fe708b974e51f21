"""The triage reaction to stored mentions: rescore them, and wake items whose author wrote.

Registered into `listener.hooks` by the composition roots (the ASGI app, the arq worker, the
CLI) with `install(settings)`; ingest then calls it inside its own transaction, so a mention
and its priority are committed together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from listener.hooks import MentionsChanged, on_mentions_changed
from listener.settings import Settings
from moderation.queue.priority import PriorityConfig, refresh_priorities
from moderation.queue.snooze import wake_for_authors

HOOK_NAME = "moderation.triage"


def install(settings: Settings) -> None:
    """Register the triage hook (again: the latest settings win)."""
    config = PriorityConfig.from_settings(settings)

    async def _react(session: AsyncSession, change: MentionsChanged) -> None:
        if change.new_ids:
            await wake_for_authors(session, new_mention_ids=change.new_ids)
        await refresh_priorities(
            session, mention_ids=[*change.new_ids, *change.updated_ids], config=config
        )

    on_mentions_changed(HOOK_NAME, _react)

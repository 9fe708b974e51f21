"""The triage reaction to stored mentions: rescore them, and wake items whose author wrote.

`api.wiring` adds it to the reactions every session carries; ingest then runs it inside its
own transaction, so a mention and its priority are committed together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from listener.reactions import MentionsChanged, MentionsHook
from listener.settings import Settings
from moderation.queue.priority import PriorityConfig, refresh_priorities
from moderation.queue.snooze import wake_for_authors

HOOK_NAME = "moderation.triage"


def triage_reaction(settings: Settings) -> MentionsHook:
    """Rescore new and changed mentions; wake snoozed items whose author wrote again."""
    config = PriorityConfig.from_settings(settings)

    async def _react(session: AsyncSession, change: MentionsChanged) -> None:
        if change.new_ids:
            await wake_for_authors(session, new_mention_ids=change.new_ids)
        await refresh_priorities(
            session, mention_ids=[*change.new_ids, *change.updated_ids], config=config
        )

    return _react

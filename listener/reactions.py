"""Reactions to stored mentions: what the layers above do when mentions are stored or re-tagged.

Ingest, re-tagging and corrections call `mentions_changed` inside their transaction with the ids
they inserted and updated. What runs then (recompute priority, wake snoozed items whose author
wrote again, link answers to our questions) belongs to the moderation domains, which this
kernel may not import. So the wiring (`api.wiring`) builds one `Reactions` object and hands it
to the session factory (`listener.db.make_sessionmaker(engine, reactions=...)`): every unit of
work carries the reactions of the process that opened it, and no global registry exists.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class MentionsChanged:
    """Which mentions a unit of work created and which it changed."""

    new_ids: Sequence[int] = ()
    updated_ids: Sequence[int] = ()


MentionsHook = Callable[[AsyncSession, MentionsChanged], Awaitable[None]]

#: The key under which a session's `info` holds its reactions.
SESSION_KEY = "luister.reactions"


@dataclass(frozen=True)
class Reactions:
    """Named hooks run, in order, on every batch of stored or changed mentions."""

    hooks: Sequence[tuple[str, MentionsHook]] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        """The hooks' names, in the order they run."""
        return [name for name, _ in self.hooks]

    async def run(self, session: AsyncSession, change: MentionsChanged) -> None:
        """Run every hook in the caller's transaction (a failing hook fails the batch)."""
        for _, hook in self.hooks:
            await hook(session, change)


NO_REACTIONS = Reactions()


def reactions_of(session: AsyncSession) -> Reactions:
    """The reactions the session's factory was built with (none for a bare session)."""
    reactions = session.info.get(SESSION_KEY, NO_REACTIONS)
    assert isinstance(reactions, Reactions)
    return reactions


async def mentions_changed(
    session: AsyncSession, *, new_ids: Sequence[int] = (), updated_ids: Sequence[int] = ()
) -> None:
    """Tell the session's reactions which mentions this unit of work stored or changed."""
    if not new_ids and not updated_ids:
        return
    change = MentionsChanged(new_ids=list(new_ids), updated_ids=list(updated_ids))
    await reactions_of(session).run(session, change)

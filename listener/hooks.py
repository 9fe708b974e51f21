"""Reactions to stored mentions, registered by the layers above (`listener` never imports them).

Ingest calls `mentions_changed` inside its transaction with the ids it inserted and updated;
anything else that changes what a mention says or how it is tagged (the NLP pipeline, say)
calls it too. The moderation layer registers its reaction (recompute priority, wake snoozed
items whose author wrote again) from the composition roots: the ASGI app, the arq worker and
the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True)
class MentionsChanged:
    """Which mentions a unit of work created and which it changed."""

    new_ids: Sequence[int] = ()
    updated_ids: Sequence[int] = ()


MentionsHook = Callable[[AsyncSession, MentionsChanged], Awaitable[None]]

_hooks: dict[str, MentionsHook] = {}


def on_mentions_changed(name: str, hook: MentionsHook) -> None:
    """Register `hook` under `name` (registering the same name again replaces it)."""
    _hooks[name] = hook


def remove_hook(name: str) -> None:
    """Forget the hook registered under `name`, if any."""
    _hooks.pop(name, None)


def registered_hooks() -> list[str]:
    """The names of the registered hooks, in registration order."""
    return list(_hooks)


async def mentions_changed(
    session: AsyncSession, *, new_ids: Sequence[int] = (), updated_ids: Sequence[int] = ()
) -> None:
    """Run every registered hook in the caller's transaction (a failing hook fails the batch)."""
    if not new_ids and not updated_ids:
        return
    change = MentionsChanged(new_ids=list(new_ids), updated_ids=list(updated_ids))
    for hook in list(_hooks.values()):
        await hook(session, change)

"""Internal notes' @mentions: who was called in, and each staff member's list of call-ins."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Note, NoteMention, User

# Usernames may contain dots and @ (e-mail style); a trailing dot is punctuation, not the name.
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._@-]{1,99})")


def mentioned_usernames(body: str) -> list[str]:
    """The usernames @mentioned in a note, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(body):
        seen.setdefault(match.group(1).rstrip(".-@").lower(), None)
    return list(seen)


async def record_note_mentions(session: AsyncSession, *, note: Note) -> list[User]:
    """Link the note to the active staff it @mentions; unknown names are plain text."""
    names = mentioned_usernames(note.body)
    if not names:
        return []
    users = list(
        (
            await session.execute(
                select(User)
                .where(func.lower(User.username).in_(names), User.is_active.is_(True))
                .order_by(User.username)
            )
        ).scalars()
    )
    session.add_all(NoteMention(note_id=note.id, user_id=u.id) for u in users)
    return users


@dataclass(frozen=True)
class CallIn:
    """A note that @mentions someone, with who wrote it."""

    note: Note
    author: str | None


async def notes_mentioning(
    session: AsyncSession, *, user_id: int, limit: int, before_id: int | None = None
) -> list[CallIn]:
    """The notes that @mention `user_id`, newest first (page with `before_id`)."""
    stmt = (
        select(Note, User.username)
        .join(NoteMention, NoteMention.note_id == Note.id)
        .outerjoin(User, User.id == Note.author_id)
        .where(NoteMention.user_id == user_id)
        .order_by(Note.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(Note.id < before_id)
    return [CallIn(note, author) for note, author in (await session.execute(stmt)).all()]

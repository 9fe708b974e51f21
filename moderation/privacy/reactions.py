"""The privacy reaction to stored mentions: what an erased person wrote is not stored again.

Erasure keeps keyed hashes of the erased posts and (on request) of the person's accounts. When
ingest stores new mentions, this hook, run first in the same transaction, deletes the ones whose
post or author matches (a feed serving an erased post again, a new post by a person who asked
to be erased) together with an author record ingest just made for them. Tombstones keep the
counts; the copies would count twice.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import Author, Mention, PrivacySuppression
from listener.reactions import MentionsChanged, MentionsHook
from listener.settings import Settings
from moderation.privacy.service import suppression_key

HOOK_NAME = "moderation.privacy"


def suppression_reaction(settings: Settings) -> MentionsHook:
    """Drop new mentions of erased posts and erased people."""
    secrets: list[bytes] = []

    def secret() -> bytes:
        # Read on first use: building the wiring must not create the dev secret file.
        if not secrets:
            secrets.append(settings.secret_bytes())
        return secrets[0]

    async def _react(session: AsyncSession, change: MentionsChanged) -> None:
        if not change.new_ids:
            return
        if (await session.execute(select(PrivacySuppression.id).limit(1))).first() is None:
            return  # nobody was ever erased: one index probe per batch
        rows = (
            await session.execute(
                select(
                    Mention.id, Mention.platform, Mention.external_id, Author.id, Author.platform_id
                )
                .outerjoin(Author, Author.id == Mention.author_id)
                .where(Mention.id.in_(list(change.new_ids)))
            )
        ).all()
        keyed: dict[str, list[tuple[int, int | None]]] = {}
        for mention_id, platform, external_id, author_id, platform_id in rows:
            post = suppression_key(secret(), "post", platform, external_id)
            keyed.setdefault(post, []).append((mention_id, None))
            if platform_id is not None:
                person = suppression_key(secret(), "author", platform, platform_id)
                keyed.setdefault(person, []).append((mention_id, author_id))
        found = set(
            (
                await session.execute(
                    select(PrivacySuppression.key).where(PrivacySuppression.key.in_(list(keyed)))
                )
            ).scalars()
        )
        if not found:
            return
        mention_ids = sorted({m for k in found for m, _ in keyed[k]})
        author_ids = sorted({a for k in found for _, a in keyed[k] if a is not None})
        await session.execute(
            delete(Mention)
            .where(Mention.id.in_(mention_ids))
            .execution_options(synchronize_session=False)
        )
        if author_ids:
            still_used = select(Mention.author_id).where(Mention.author_id.in_(author_ids))
            await session.execute(
                delete(Author)
                .where(Author.id.in_(author_ids), Author.id.not_in(still_used))
                .execution_options(synchronize_session=False)
            )

    return _react

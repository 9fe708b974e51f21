"""Which topics a mention is linked to, written by tagging and by staff corrections alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import MentionTopic


async def replace_topic_links(
    session: AsyncSession,
    links: Mapping[int, list[tuple[int, list[dict[str, Any]]]]],
    *,
    replace: Sequence[int] = (),
) -> None:
    """Drop the topic links of `replace`, then write `links` (mention id -> topics)."""
    if replace:
        await session.execute(
            delete(MentionTopic)
            .where(MentionTopic.mention_id.in_(list(replace)))
            .execution_options(synchronize_session=False)
        )
    rows = [
        {"mention_id": mention_id, "topic_id": topic_id, "spans": spans}
        for mention_id, found in links.items()
        for topic_id, spans in found
    ]
    if rows:
        await session.execute(insert(MentionTopic), rows)

"""Re-tag stored mentions (after a taxonomy change or a new model), batch by batch.

Each batch is its own transaction, walked in id order, so a long run can be stopped and
started again. Only mentions whose tags actually change are written; staff corrections stay
on top of the new tags, and registered reactions (priority) see the changed mentions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Mention, MentionTopic
from listener.models.privacy import ERASED_PREFIX
from listener.nlp.corrections import latest_corrections, overlay_corrections
from listener.nlp.store import (
    TaggingState,
    load_tagging_state,
    mention_columns,
    tag_inputs,
    topic_links,
)
from listener.nlp.topic_links import replace_topic_links
from listener.reactions import mentions_changed

DEFAULT_BATCH_SIZE = 500
UNDETERMINED = "und"
_COMPARED = ("language", "language_confidence", "sentiment_label", "sentiment_score", "intents")


@dataclass
class RetagReport:
    """How many mentions were read and how many got different tags."""

    seen: int = 0
    changed: int = 0

    @property
    def unchanged(self) -> int:
        """Mentions whose tags stayed the same."""
        return self.seen - self.changed

    def to_dict(self) -> dict[str, int]:
        """The counts, as `--json` prints them."""
        return {"seen": self.seen, "changed": self.changed, "unchanged": self.unchanged}


def _filters(since: datetime | None, language: str | None) -> list[ColumnElement[bool]]:
    # Erased tombstones keep their tags so past digests keep their counts: never re-tag them
    # from the empty text they have left.
    where: list[ColumnElement[bool]] = [Mention.external_id.not_like(f"{ERASED_PREFIX}%")]
    if since is not None:
        where.append(Mention.created_at >= since)
    if language:
        where.append(Mention.language == language)
    return where


async def count_to_retag(
    session: AsyncSession, *, since: datetime | None = None, language: str | None = None
) -> int:
    """How many stored mentions a re-tag with these filters reads."""
    query = select(func.count()).select_from(Mention).where(*_filters(since, language))
    return int((await session.execute(query)).scalar_one())


def platform_language(row: Any) -> str | None:
    """The language the platform gave: stored without a detection confidence."""
    if row.language_confidence is None and row.language not in (None, UNDETERMINED):
        return str(row.language)
    return None


async def retag_batch(
    session: AsyncSession,
    *,
    state: TaggingState,
    after_id: int,
    limit: int,
    since: datetime | None = None,
    language: str | None = None,
) -> tuple[int | None, int, list[int]]:
    """Re-tag the next batch after `after_id`: (last id or None when done, read, changed ids)."""
    from listener.nlp.tagger import TagInput

    rows = (
        await session.execute(
            select(
                Mention.id,
                Mention.text,
                Mention.nlp_version,
                *(getattr(Mention, c) for c in _COMPARED),
            )
            .where(Mention.id > after_id, *_filters(since, language))
            .order_by(Mention.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return None, 0, []
    ids = [row.id for row in rows]
    inputs = [TagInput(text=row.text, id=row.id, language=platform_language(row)) for row in rows]
    results = await tag_inputs(state, inputs)
    corrected = await latest_corrections(session, mention_ids=ids)
    stored_links = await _stored_links(session, ids)
    changed_columns: list[dict[str, Any]] = []
    tags_changed: set[int] = set()
    changed_links: dict[int, list[tuple[int, list[dict[str, Any]]]]] = {}
    for row, item, result in zip(rows, inputs, results, strict=True):
        columns = mention_columns(state, result, from_platform=item.language is not None)
        links = topic_links(state, result)
        if row.id in corrected:
            columns, links = overlay_corrections(
                columns, links, corrected[row.id], dict(state.topic_ids)
            )
        if any(getattr(row, c) != columns[c] for c in _COMPARED):
            tags_changed.add(row.id)
        if sorted(links) != sorted(stored_links.get(row.id, [])):
            tags_changed.add(row.id)
            changed_links[row.id] = links
        # Unchanged tags made by a newer taxonomy or model still record that version.
        if row.id in tags_changed or row.nlp_version != columns["nlp_version"]:
            changed_columns.append({"id": row.id, **columns})
    if changed_columns:
        await session.execute(update(Mention), changed_columns)
    if changed_links:
        await replace_topic_links(session, changed_links, replace=list(changed_links))
    changed = sorted(tags_changed)
    await mentions_changed(session, updated_ids=changed)
    return ids[-1], len(rows), changed


async def _stored_links(
    session: AsyncSession, mention_ids: Sequence[int]
) -> dict[int, list[tuple[int, list[dict[str, Any]]]]]:
    rows = await session.execute(
        select(MentionTopic.mention_id, MentionTopic.topic_id, MentionTopic.spans).where(
            MentionTopic.mention_id.in_(list(mention_ids))
        )
    )
    links: dict[int, list[tuple[int, list[dict[str, Any]]]]] = {}
    for mention_id, topic_id, spans in rows:
        links.setdefault(mention_id, []).append((topic_id, list(spans or [])))
    return links


async def retag_mentions(
    sessions: async_sessionmaker[AsyncSession],
    *,
    since: datetime | None = None,
    language: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> RetagReport:
    """Re-tag every stored mention matching the filters with today's taxonomy and models."""
    async with sessions() as session:
        state = await load_tagging_state(session)
    report = RetagReport()
    after_id: int | None = 0
    while after_id is not None:
        async with sessions() as session, session.begin():
            after_id, seen, changed = await retag_batch(
                session,
                state=state,
                after_id=after_id,
                limit=batch_size,
                since=since,
                language=language,
            )
        report.seen += seen
        report.changed += len(changed)
        if on_progress is not None and seen:
            on_progress(seen)
    return report

"""What drove a spike: its top terms, authors, sources and example mentions in that hour."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.alerts.detect import Spike
from listener.digest.document import EmergentTerm
from listener.digest.listening import card_columns, card_fields
from listener.digest.query import engagement
from listener.digest.terms import drop_covered_words, mention_terms, stop_words
from listener.models import Author, Mention, MentionTopic, Source, Topic
from listener.own_accounts import not_by_us

# Terms are counted over at most this many of the hour's mentions, the most engaged first.
TERM_SAMPLE = 500
TOP = 5


def _conditions(spike: Spike) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [
        Mention.created_at >= spike.window_start,
        Mention.created_at < spike.window_end,
        not_by_us(),
    ]
    if spike.dimension == "topic":
        topic_ids = select(Topic.id).where(Topic.name == spike.key)
        conds.append(
            select(MentionTopic.mention_id)
            .where(MentionTopic.mention_id == Mention.id, MentionTopic.topic_id.in_(topic_ids))
            .exists()
        )
    elif spike.dimension == "source":
        conds.append(Mention.source_id.in_(select(Source.id).where(Source.name == spike.key)))
    if spike.metric == "negative_share":
        conds.append(Mention.sentiment_label == "negative")
    return conds


async def spike_drivers(session: AsyncSession, *, spike: Spike) -> dict[str, Any]:
    """Top terms, authors, sources and examples among the mentions behind `spike`."""
    conds = _conditions(spike)
    texts = (
        await session.execute(
            select(Mention.text)
            .where(*conds)
            .order_by(engagement().desc(), Mention.id)
            .limit(TERM_SAMPLE)
        )
    ).scalars()
    stops = stop_words()
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        counts.update(mention_terms(text, stops))
    key_words = set(spike.key.lower().split())
    ranked = sorted(
        (
            EmergentTerm(term=term, kind=kind, count=n, previous=0)
            for (kind, term), n in counts.items()
            if term.lstrip("#") not in key_words
        ),
        key=lambda t: (-t.count, -len(t.term.split()), t.term),
    )
    terms = [{"term": t.term, "mentions": t.count} for t in drop_covered_words(ranked)[:TOP]]
    n = func.count(Mention.id)
    authors = await session.execute(
        select(Author.handle, Author.display_name, Author.platform, Author.followers, n)
        .join(Mention, Mention.author_id == Author.id)
        .where(*conds)
        .group_by(Author.id)
        .order_by(n.desc(), Author.followers.desc().nulls_last(), Author.id)
        .limit(TOP)
    )
    sources = await session.execute(
        select(Source.name, n)
        .join(Mention, Mention.source_id == Source.id)
        .where(*conds)
        .group_by(Source.name)
        .order_by(n.desc(), Source.name)
        .limit(TOP)
    )
    examples = await session.execute(
        select(*card_columns())
        .outerjoin(Author, Author.id == Mention.author_id)
        .where(*conds)
        .order_by(engagement().desc(), Mention.id)
        .limit(3)
    )
    return {
        "terms": terms,
        "authors": [
            {"author": handle or name, "platform": platform, "followers": followers, "mentions": c}
            for handle, name, platform, followers, c in authors
        ],
        "sources": [{"source": name, "mentions": c} for name, c in sources],
        "examples": [card_fields(row) for row in examples],
    }

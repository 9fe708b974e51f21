"""Digest sections about what was heard: volume, sentiment, topics, voices, engagement.

Every number comes from an aggregate query; Python only folds the grouped rows (a few hundred
at most), never the mentions themselves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.document import (
    Authors,
    DayCount,
    DaySentiment,
    EngagedMention,
    LabelCounts,
    LabelShares,
    LanguageCount,
    LoyalAuthor,
    MentionCard,
    ReachingAuthor,
    Sentiment,
    SourceCount,
    Topics,
    TopicStat,
    TrendPoint,
    Volume,
)
from listener.digest.periods import Period
from listener.digest.query import (
    MentionFilter,
    bucket,
    change,
    engagement,
    excerpt,
    named_author,
    quotable,
    share,
    within,
)
from listener.kit.strings import label_of
from listener.models import Author, Mention, MentionTopic, Source, Topic
from listener.nlp.topics_store import topic_labels

# How many earlier windows form the baseline (four weeks for a weekly digest).
BASELINE_WINDOWS = 4
LABELS = ("positive", "neutral", "negative")
TOP = 5
_Key = TypeVar("_Key", int, str)


def _is(label: str) -> ColumnElement[int]:
    return case((Mention.sentiment_label == label, 1), else_=0)


async def volume_and_sentiment(
    session: AsyncSession, *, period: Period, filt: MentionFilter
) -> tuple[Volume, Sentiment]:
    """Counts per window, day, source and language, and sentiment shares, in one grouped scan."""
    windows = period.window_starts(BASELINE_WINDOWS)[:-2]
    bounds = windows + period.day_starts()
    inner = (
        select(
            bucket(Mention.created_at, bounds).label("b"),
            Mention.source_id.label("source_id"),
            func.coalesce(Mention.language, "und").label("language"),
            Mention.sentiment_label.label("label"),
            Mention.sentiment_score.label("score"),
            case((Mention.nlp_version.is_not(None), 1), else_=0).label("nlp"),
        )
        .where(*within(bounds[0], bounds[-1], filt))
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                inner.c.b,
                inner.c.source_id,
                inner.c.language,
                inner.c.label,
                func.count(),
                func.sum(inner.c.score),
                func.sum(inner.c.nlp),
            ).group_by(inner.c.b, inner.c.source_id, inner.c.language, inner.c.label)
        )
    ).all()
    sources = {
        r.id: (r.name, r.kind)
        for r in await session.execute(select(Source.id, Source.name, Source.kind))
    }
    windows_n = BASELINE_WINDOWS
    days = period.day_list()
    per_window = [0] * (windows_n + 1)
    per_day = [0] * len(days)
    day_labels: list[dict[str, int]] = [defaultdict(int) for _ in days]
    by_source: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    by_language: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    labels: list[dict[str, int]] = [defaultdict(int) for _ in range(windows_n + 1)]
    score_sum = 0.0
    nlp_tagged = 0
    for b, source_id, language, label, n, scores, nlp in rows:
        current = b >= windows_n
        w = windows_n if current else b
        per_window[w] += n
        labels[w][label or "untagged"] += n
        if current:
            per_day[b - windows_n] += n
            day_labels[b - windows_n][label or "untagged"] += n
            score_sum += scores or 0.0
            nlp_tagged += nlp or 0
        if current or w == windows_n - 1:
            slot = 0 if current else 1
            by_source[source_id][slot] += n
            by_language[language][slot] += n
    total, previous = per_window[windows_n], per_window[windows_n - 1]
    baseline = sum(per_window[:windows_n]) / windows_n
    volume = Volume(
        total=total,
        previous=previous,
        change=change(total, previous),
        baseline_mean=round(baseline, 2),
        change_vs_baseline=change(total, baseline),
        tagged_by_nlp=nlp_tagged,
        trend=[
            TrendPoint(label=period.shifted(k - windows_n).label, count=per_window[k])
            for k in range(windows_n + 1)
        ],
        per_day=[DayCount(date=d.isoformat(), count=per_day[i]) for i, d in enumerate(days)],
        by_source=[
            _source_count(sources, sid, cur, prev) for sid, (cur, prev) in _ranked(by_source)
        ],
        by_language=[
            LanguageCount(language=lang, count=cur, previous=prev, change=change(cur, prev))
            for lang, (cur, prev) in _ranked(by_language)
        ],
    )
    tagged = sum(labels[windows_n][lbl] for lbl in LABELS)
    shares, previous_shares = _shares(labels[windows_n]), _shares(labels[windows_n - 1])
    sentiment = Sentiment(
        tagged=tagged,
        untagged=total - tagged,
        counts=LabelCounts(**{lbl: labels[windows_n][lbl] for lbl in LABELS}),
        shares=shares,
        previous_shares=previous_shares,
        baseline_shares=_shares(_summed(labels[:windows_n])),
        mean_score=round(score_sum / tagged, 4) if tagged else None,
        per_day=[
            DaySentiment(
                date=d.isoformat(), **{lbl: day_labels[i][lbl] for lbl in (*LABELS, "untagged")}
            )
            for i, d in enumerate(days)
        ],
        change_points=LabelShares(
            **{lbl: _points(getattr(shares, lbl), getattr(previous_shares, lbl)) for lbl in LABELS}
        ),
    )
    return volume, sentiment


def _points(current: float | None, previous: float | None) -> float | None:
    return round(current - previous, 4) if current is not None and previous is not None else None


def _source_count(
    sources: dict[int, tuple[str, str]], source_id: int, count: int, previous: int
) -> SourceCount:
    name, kind = sources.get(source_id, (f"source {source_id}", "unknown"))
    return SourceCount(
        source=name, platform=kind, count=count, previous=previous, change=change(count, previous)
    )


def _ranked(counts: Mapping[_Key, list[int]]) -> list[tuple[_Key, list[int]]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1][0], -kv[1][1], str(kv[0])))


def _summed(windows: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for counts in windows:
        for label, n in counts.items():
            total[label] += n
    return total


def _shares(counts: dict[str, int]) -> LabelShares:
    tagged = sum(counts.get(lbl, 0) for lbl in LABELS)
    return LabelShares(**{lbl: share(counts.get(lbl, 0), tagged) for lbl in LABELS})


def card_fields(row: Any) -> dict[str, Any]:
    """The `MentionCard` fields of a row with the columns of `card_columns`."""
    return {
        "id": row.id,
        "url": row.url,
        "platform": row.platform,
        "author": row.handle or row.display_name,
        "created_at": row.created_at.isoformat(),
        "text": excerpt(row.text),
        "sentiment": row.sentiment_label,
        "engagement": int(row.engagement or 0),
    }


def mention_card(row: Any) -> MentionCard:
    """A mention as the digest quotes it (from a row with the columns of `card_columns`)."""
    return MentionCard(**card_fields(row))


def card_columns() -> list[Any]:
    """The columns `mention_card` reads; the query must outer-join Author."""
    return [
        Mention.id,
        Mention.url,
        Mention.platform,
        Author.handle,
        Author.display_name,
        Mention.created_at,
        Mention.text,
        Mention.sentiment_label,
        engagement().label("engagement"),
        Mention.likes,
        Mention.reposts,
        Mention.replies,
    ]


async def topics(
    session: AsyncSession,
    *,
    period: Period,
    filt: MentionFilter,
    total: int,
    candidates: list[Any] | None = None,
    language: str = "en",
) -> Topics:
    """Top topics, and the ones that rose or fell most against the previous window, each with
    its label in `language`."""
    bounds = period.window_starts(BASELINE_WINDOWS)
    conds = within(bounds[0], bounds[-1], filt)
    if filt.topics:
        conds.append(Topic.name.in_(filt.topics))
    inner = (
        select(bucket(Mention.created_at, bounds).label("b"), Topic.name.label("topic"))
        .select_from(MentionTopic)
        .join(Mention, Mention.id == MentionTopic.mention_id)
        .join(Topic, Topic.id == MentionTopic.topic_id)
        .where(*conds)
        .subquery()
    )
    rows = await session.execute(
        select(inner.c.topic, inner.c.b, func.count()).group_by(inner.c.topic, inner.c.b)
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * (BASELINE_WINDOWS + 1))
    for topic, b, n in rows:
        counts[topic][b] += n
    # With a topic filter, every mention let through has one of its topics: no second read.
    with_topic = (
        total
        if filt.topics
        else (
            await session.execute(
                select(func.count()).where(
                    *within(period.start, period.end, filt),
                    select(MentionTopic.mention_id)
                    .where(MentionTopic.mention_id == Mention.id)
                    .exists(),
                )
            )
        ).scalar_one()
    )
    labels = await topic_labels(session, language) if counts else {}
    stats = [
        TopicStat(
            topic=name,
            count=c[-1],
            previous=c[-2],
            baseline_mean=round(sum(c[:-1]) / BASELINE_WINDOWS, 2),
            change=change(c[-1], c[-2]),
            share=share(c[-1], total),
            label=label_of(labels, name),
        )
        for name, c in counts.items()
    ]
    top = sorted((s for s in stats if s.count), key=lambda s: (-s.count, s.topic))
    rising = sorted(
        (s for s in stats if s.count > s.previous),
        key=lambda s: (s.previous - s.count, s.topic),
    )[:3]
    falling = sorted(
        (s for s in stats if s.count < s.previous),
        key=lambda s: (s.count - s.previous, s.topic),
    )[:3]
    # Rising topics are explained by what was said now; falling ones by what faded.
    await _attach_examples(session, rising, period.start, period.end, filt, candidates)
    previous = period.shifted(-1)
    await _attach_examples(session, falling, previous.start, previous.end, filt)
    # Top entries that also rose or fell are the same objects, so they carry examples too.
    return Topics(mentions_with_topic=with_topic, top=top[:10], rising=rising, falling=falling)


# Examples are looked for among the period's most engaged mentions first: one top-N scan
# instead of one per topic. Picking from them is exact, since any mention of a topic that
# ranks above the ones found would itself be among the candidates.
EXAMPLE_CANDIDATES = 500


async def _attach_examples(
    session: AsyncSession,
    stats: list[TopicStat],
    start: datetime,
    end: datetime,
    filt: MentionFilter,
    candidates: list[Any] | None = None,
) -> None:
    if not stats:
        return
    if candidates is None:
        candidates = await top_engaged(session, start=start, end=end, filt=filt)
    names = [s.topic for s in stats]
    topics_of: dict[int, set[str]] = defaultdict(set)
    pairs = await session.execute(
        select(MentionTopic.mention_id, Topic.name)
        .join(Topic, Topic.id == MentionTopic.topic_id)
        .where(MentionTopic.mention_id.in_([c.id for c in candidates]), Topic.name.in_(names))
    )
    for mention_id, name in pairs:
        topics_of[mention_id].add(name)
    found = {s.topic: [c for c in candidates if s.topic in topics_of[c.id]][:2] for s in stats}
    rarer = [t for t, rows in found.items() if len(rows) < 2]
    if rarer and len(candidates) == EXAMPLE_CANDIDATES:
        # Topics rarer than the candidates: their two most engaged mentions each, all in one
        # read ranked per topic (a read per topic cost a pass over the period each).
        found.update(await _top_two_per_topic(session, rarer, start, end, filt))
    for stat in stats:
        stat.examples = [mention_card(row) for row in found[stat.topic]]


async def _top_two_per_topic(
    session: AsyncSession, names: list[str], start: datetime, end: datetime, filt: MentionFilter
) -> dict[str, list[Any]]:
    """Each named topic's two most engaged mentions in [start, end), as `card_columns` rows."""
    rank = func.row_number().over(
        partition_by=Topic.name, order_by=(engagement().desc(), Mention.id)
    )
    ranked = (
        select(
            Mention.id.label("id"),
            Topic.name.label("topic"),
            engagement().label("e"),
            rank.label("rank"),
        )
        .select_from(MentionTopic)
        .join(Topic, Topic.id == MentionTopic.topic_id)
        .join(Mention, Mention.id == MentionTopic.mention_id)
        .where(Topic.name.in_(names), *within(start, end, filt), quotable())
        .subquery()
    )
    # The winners' ids first (two per topic): joined in the same statement, the planner
    # expected thousands of winners and read every mention to match them.
    winners = (
        await session.execute(
            select(ranked.c.id, ranked.c.topic)
            .where(ranked.c.rank <= 2)
            .order_by(ranked.c.topic, ranked.c.rank)
        )
    ).all()
    cards = {
        row.id: row
        for row in await session.execute(
            select(*card_columns())
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(Mention.id.in_({w.id for w in winners}))
        )
    }
    found: dict[str, list[Any]] = {name: [] for name in names}
    for winner in winners:
        found[winner.topic].append(cards[winner.id])
    return found


def _author_fields(author: Author) -> dict[str, Any]:
    return {
        "author_id": author.id,
        "handle": author.handle,
        "display_name": author.display_name,
        "platform": author.platform,
        "profile_url": author.profile_url,
        "followers": author.followers,
    }


async def authors(session: AsyncSession, *, period: Period, filt: MentionFilter) -> Authors:
    """The widest-reaching voices of the period, and the loyal ones who keep coming back.

    Both rankings come from one read: the mentions of the period and its baseline windows,
    counted per author once (a count per window side by side), then ranked twice.
    """
    bounds = period.window_starts(BASELINE_WINDOWS)
    inner = (
        select(
            Mention.author_id.label("author_id"),
            bucket(Mention.created_at, bounds).label("b"),
            _is("positive").label("pos"),
            _is("negative").label("neg"),
            engagement().label("eng"),
        )
        .where(*within(bounds[0], bounds[-1], filt), Mention.author_id.is_not(None))
        .subquery()
    )
    # One grouping by author alone, with a count per window side by side: windows active is
    # then how many of those counts are non-zero (grouping by author and window first made
    # five times the groups, and the grouping was most of the digest's time).
    now = BASELINE_WINDOWS
    per_window = [
        func.sum(case((inner.c.b == k, 1), else_=0)).label(f"n{k}") for k in range(now + 1)
    ]
    per_author = (
        select(
            inner.c.author_id,
            *per_window,
            func.count().label("n"),
            func.sum(inner.c.pos).label("pos"),
            func.sum(inner.c.neg).label("neg"),
            func.sum(case((inner.c.b == now, inner.c.eng), else_=0)).label("eng"),
        )
        .group_by(inner.c.author_id)
        .cte("per_author")
    )
    windows_active = sum(
        (case((per_author.c[f"n{k}"] > 0, 1), else_=0) for k in range(now + 1)),
        start=literal(0),
    )
    current = per_author.c[f"n{now}"]
    loyal = (
        select(
            literal(1).label("kind"),
            per_author.c.author_id.label("author_id"),
            windows_active.label("a"),
            current.label("b"),
            per_author.c.n.label("c"),
            per_author.c.pos.label("d"),
            per_author.c.neg.label("e"),
        )
        # An erased person keeps their counts in the numbers, never a place in this list.
        .join(Author, Author.id == per_author.c.author_id)
        .where(current > 0, windows_active >= 2, named_author())
        .order_by(
            per_author.c.pos.desc(),
            windows_active.desc(),
            per_author.c.n.desc(),
            per_author.c.author_id,
        )
        .limit(TOP)
        .subquery()
    )
    # Reach: the period's own window; authors join only the per-author counts.
    reach = (
        select(
            literal(2).label("kind"),
            per_author.c.author_id.label("author_id"),
            current.label("a"),
            per_author.c.eng.label("b"),
            literal(0).label("c"),
            literal(0).label("d"),
            literal(0).label("e"),
        )
        .join(Author, Author.id == per_author.c.author_id)
        .where(current > 0, Author.followers.is_not(None))
        .order_by((current * Author.followers).desc(), Author.id)
        .limit(TOP)
        .subquery()
    )
    rows = (await session.execute(union_all(select(*loyal.c), select(*reach.c)))).all()
    ids = {r.author_id for r in rows}
    people = {
        a.id: a for a in (await session.execute(select(Author).where(Author.id.in_(ids)))).scalars()
    }
    loyal_rows = sorted(
        (r for r in rows if r.kind == 1), key=lambda r: (-r.d, -r.a, -r.c, r.author_id)
    )
    reach_rows = sorted(
        (r for r in rows if r.kind == 2),
        key=lambda r: (-(r.a * (people[r.author_id].followers or 0)), r.author_id),
    )
    return Authors(
        by_reach=[
            ReachingAuthor(
                **_author_fields(people[r.author_id]),
                mentions=int(r.a),
                engagement=int(r.b or 0),
                reach=int(r.a) * (people[r.author_id].followers or 0),
            )
            for r in reach_rows
        ],
        loyal=[
            LoyalAuthor(
                **_author_fields(people[r.author_id]),
                windows_active=int(r.a),
                mentions=int(r.b),
                mentions_total=int(r.c),
                positive=int(r.d),
                negative=int(r.e),
                worth_thanking=r.d > r.e,
            )
            for r in loyal_rows
        ],
        windows=BASELINE_WINDOWS + 1,
    )


async def top_engaged(
    session: AsyncSession, *, start: datetime, end: datetime, filt: MentionFilter
) -> list[Any]:
    """The EXAMPLE_CANDIDATES most engaged mentions in [start, end), most engaged first."""
    # The ranking carries only the narrow columns; the wide ones (text, url, author) are
    # fetched for the winners alone.
    ranked = (
        select(Mention.id.label("id"), engagement().label("e"))
        .where(*within(start, end, filt), quotable())
        .order_by(engagement().desc(), Mention.id)
        .limit(EXAMPLE_CANDIDATES)
        .subquery()
    )
    rows = await session.execute(
        select(*card_columns())
        .join(ranked, ranked.c.id == Mention.id)
        .outerjoin(Author, Author.id == Mention.author_id)
        .order_by(ranked.c.e.desc(), Mention.id)
    )
    return list(rows)


def most_engaged(candidates: list[Any]) -> list[EngagedMention]:
    """The mentions people reacted to most, from `top_engaged`'s rows."""
    return [
        EngagedMention(**card_fields(r), likes=r.likes, reposts=r.reposts, replies=r.replies)
        for r in candidates[:TOP]
        if r.engagement
    ]

"""Spike detection: one hour against a trailing baseline, per topic and per source.

Volume: fire when the hour's count reaches `min_count`, is at least `min_ratio` times the
baseline's hourly mean, and lies `z_threshold` standard deviations above it (Huginn's peak
detector and Socialmetrix's "average + k·σ" rule, in the research notes). Hours without
mentions count as zeros. The deviation is floored at the Poisson value sqrt(mean), at least 1,
so a topic that is usually silent does not alert on its second mention.

Negative share: a one-proportion z-test of the hour's negative share against the baseline's,
with at least `min_count` labelled mentions in the hour and a rise of MIN_SHARE_RISE.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.query import dialect_of, epoch_hour
from listener.models import Mention, MentionTopic, Source, Topic
from listener.own_accounts import not_by_us
from listener.settings import Settings

MIN_SHARE_RISE = 0.15
# Below this many labelled mentions in the baseline its negative share means little.
MIN_BASELINE_LABELLED = 20
_SHARE_FLOOR = 0.05


@dataclass(frozen=True)
class Rule:
    """Thresholds of the spike check (from settings)."""

    baseline_hours: int = 168
    min_count: int = 10
    z_threshold: float = 3.0
    min_ratio: float = 2.0
    cooldown_hours: int = 6

    @classmethod
    def from_settings(cls, settings: Settings) -> Rule:
        """The rule the settings describe."""
        return cls(
            baseline_hours=settings.alert_baseline_hours,
            min_count=settings.alert_min_count,
            z_threshold=settings.alert_z_threshold,
            min_ratio=settings.alert_min_ratio,
            cooldown_hours=settings.alert_cooldown_hours,
        )


@dataclass
class GroupStats:
    """One topic's or source's counts: in the hour checked, and per baseline hour."""

    count: int = 0
    negative: int = 0
    labelled: int = 0
    baseline_counts: dict[int, int] = field(default_factory=dict)
    baseline_negative: int = 0
    baseline_labelled: int = 0


@dataclass(frozen=True)
class Spike:
    """A detected spike, before it is stored as an alert."""

    metric: str
    dimension: str
    key: str
    window_start: datetime
    window_end: datetime
    observed: float
    baseline: float
    z_score: float
    count: int


# "all": every mention together, so a surge spread over platforms (an outage) is seen even when
# no single topic or source reaches the minimum count.
DIMENSIONS = ("topic", "source", "all")
ALL_KEY = "all"


def _key_column(dimension: str) -> Any:
    if dimension == "all":
        return literal(ALL_KEY)
    return Topic.name if dimension == "topic" else Source.name


async def group_stats(
    session: AsyncSession, *, dimension: str, window_end: datetime, rule: Rule
) -> dict[str, GroupStats]:
    """Counts per group for the hour before `window_end` and each hour of the baseline."""
    start = window_end - timedelta(hours=rule.baseline_hours + 1)
    hour = epoch_hour(Mention.created_at, dialect_of(session))
    inner = select(
        _key_column(dimension).label("key"),
        hour.label("h"),
        case((Mention.sentiment_label == "negative", 1), else_=0).label("neg"),
        case((Mention.sentiment_label.is_not(None), 1), else_=0).label("lab"),
    ).where(Mention.created_at >= start, Mention.created_at < window_end, not_by_us())
    if dimension == "topic":
        inner = (
            inner.select_from(MentionTopic)
            .join(Mention, Mention.id == MentionTopic.mention_id)
            .join(Topic, Topic.id == MentionTopic.topic_id)
        )
    elif dimension == "source":
        inner = inner.join(Source, Source.id == Mention.source_id)
    sub = inner.subquery()
    rows = await session.execute(
        select(sub.c.key, sub.c.h, func.count(), func.sum(sub.c.neg), func.sum(sub.c.lab)).group_by(
            sub.c.key, sub.c.h
        )
    )
    current_hour = int((window_end - timedelta(hours=1)).timestamp() // 3600)
    stats: dict[str, GroupStats] = defaultdict(GroupStats)
    for key, h, n, neg, lab in rows:
        s = stats[key]
        if h == current_hour:
            s.count, s.negative, s.labelled = n, int(neg or 0), int(lab or 0)
        else:
            s.baseline_counts[h] = n
            s.baseline_negative += int(neg or 0)
            s.baseline_labelled += int(lab or 0)
    return stats


def volume_spike(stats: GroupStats, rule: Rule) -> tuple[float, float] | None:
    """(baseline mean, z) when the hour's count is a spike, else None."""
    hours = rule.baseline_hours
    mean = sum(stats.baseline_counts.values()) / hours
    variance = sum(c * c for c in stats.baseline_counts.values()) / hours - mean * mean
    deviation = max(math.sqrt(max(variance, 0.0)), math.sqrt(max(mean, 1.0)))
    z = (stats.count - mean) / deviation
    if (
        stats.count >= rule.min_count
        and stats.count >= rule.min_ratio * mean
        and z >= rule.z_threshold
    ):
        return mean, z
    return None


def negative_share_spike(stats: GroupStats, rule: Rule) -> tuple[float, float, float] | None:
    """(share now, baseline share, z) when the hour's negative share is a spike, else None."""
    if stats.labelled < rule.min_count or stats.baseline_labelled < MIN_BASELINE_LABELLED:
        return None
    share = stats.negative / stats.labelled
    base = min(
        max(stats.baseline_negative / stats.baseline_labelled, _SHARE_FLOOR), 1 - _SHARE_FLOOR
    )
    z = (share - base) / math.sqrt(base * (1 - base) / stats.labelled)
    if share - base >= MIN_SHARE_RISE and z >= rule.z_threshold:
        return share, base, z
    return None


async def detect_spikes(session: AsyncSession, *, window_end: datetime, rule: Rule) -> list[Spike]:
    """Volume and negative-share spikes per topic and source in the hour before `window_end`."""
    window_start = window_end - timedelta(hours=1)
    spikes: list[Spike] = []
    for dimension in DIMENSIONS:
        for key, stats in sorted(
            (
                await group_stats(session, dimension=dimension, window_end=window_end, rule=rule)
            ).items()
        ):
            volume = volume_spike(stats, rule)
            if volume is not None:
                mean, z = volume
                spikes.append(
                    Spike(
                        "volume",
                        dimension,
                        key,
                        window_start,
                        window_end,
                        stats.count,
                        round(mean, 3),
                        round(z, 2),
                        stats.count,
                    )
                )
            negative = negative_share_spike(stats, rule)
            if negative is not None:
                now_share, base, z = negative
                spikes.append(
                    Spike(
                        "negative_share",
                        dimension,
                        key,
                        window_start,
                        window_end,
                        round(now_share, 4),
                        round(base, 4),
                        round(z, 2),
                        stats.negative,
                    )
                )
    return spikes

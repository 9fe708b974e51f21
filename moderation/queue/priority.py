"""Priority 0-100 that explains itself: factors, weights, points and a one-line reason.

Discourse stores a score breakdown (`explain_score`); Luister does the
same for a score computed from what the mention says and how it travels: intent, sentiment
strength, author reach (per platform), engagement and its growth, recency, urgent words per
language and time left on the SLA. Weights live in settings. A background refresh never bumps
the item's `version`: a moderator's write must not fail because a number was recomputed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.events import MENTION_UPDATED, record_mention_events
from listener.kit.id_lists import ids_in
from listener.models import Author, Mention, QueueItem, utcnow
from listener.own_accounts import brand_names
from listener.settings import Settings
from moderation.queue import impersonation, sla

FACTORS = ("intent", "sentiment", "reach", "engagement", "growth", "recency", "keywords", "sla")
INTENT_VALUES = {"complaint": 1.0, "help_request": 1.0, "question": 0.9, "praise": 0.2}
INTENT_NAMES = {"help_request": "help request"}
SPAM_MULTIPLIER = 0.3
# Reference rates: this much engagement (or engagement per hour) counts as the full factor.
ENGAGEMENT_FULL = 200
GROWTH_FULL_PER_HOUR = 50
# Growth is measured over at least this long, so two refreshes a second apart do not explode.
MIN_GROWTH_WINDOW = timedelta(minutes=15)
REASON_MIN_POINTS = 2.0
# An impersonator of our accounts is what a community manager must see first.
IMPERSONATION_SCORE = 90
CHUNK = 500


@dataclass(frozen=True)
class PriorityConfig:
    """The tunables, read once from settings."""

    weights: Mapping[str, float]
    urgent_words: Mapping[str, re.Pattern[str]]
    reach_followers: Mapping[str, int]
    half_life_hours: float
    bands: Mapping[str, int]
    sla_minutes: Mapping[str, int]
    heard_late_after: timedelta = timedelta(hours=6)
    brand_terms: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> PriorityConfig:
        """Compile the urgent-word lists and copy the weights and targets."""
        words = {
            language: re.compile(
                r"(?<!\w)("
                + "|".join(re.escape(w) for w in sorted(ws, key=len, reverse=True))
                + r")(?!\w)",
                re.IGNORECASE,
            )
            for language, ws in settings.priority_urgent_words.items()
            if ws
        }
        return cls(
            weights={k: float(v) for k, v in settings.priority_weights.items() if k in FACTORS},
            urgent_words=words,
            reach_followers=dict(settings.priority_reach_followers),
            half_life_hours=settings.priority_half_life_hours,
            bands=dict(settings.priority_bands),
            sla_minutes=dict(settings.sla_first_response_minutes),
            heard_late_after=timedelta(hours=settings.sla_heard_late_hours),
            brand_terms=tuple(settings.brand_terms),
        )


@dataclass(frozen=True)
class PriorityInputs:
    """Everything the score reads about one mention and its queue item."""

    platform: str
    language: str | None
    text: str
    intents: Sequence[str]
    sentiment_label: str | None
    sentiment_score: float | None
    followers: int | None
    likes: int | None
    reposts: int | None
    replies: int | None
    score: int | None
    created_at: datetime
    received_at: datetime
    sla_band: str | None = None
    due_at: datetime | None = None
    first_response_at: datetime | None = None
    previous: Mapping[str, Any] | None = None  # the last observation: engagement and when
    floor: Mapping[str, Any] | None = None  # a minimum set by an event (workflow.raise_priority)
    impersonation: Mapping[str, Any] | None = None  # impersonation.Verdict.as_dict()


@dataclass(frozen=True)
class Factor:
    """One factor: its value in [0, 1], its weight and the points it adds to the score."""

    name: str
    value: float
    weight: float
    points: float
    detail: str | None = None


@dataclass(frozen=True)
class PriorityResult:
    """The score, the SLA it implies and the breakdown that explains both."""

    score: int
    base: int
    band: str
    sla_band: str | None
    due_at: datetime | None
    reason: str
    factors: list[Factor] = field(default_factory=list)
    engagement: int = 0
    computed_at: datetime | None = None
    floor: Mapping[str, Any] | None = None
    heard_late: bool = False
    impersonation: Mapping[str, Any] | None = None

    def explain(self) -> dict[str, Any]:
        """The stored (and returned) explanation."""
        flags: dict[str, Any] = {"floor": dict(self.floor)} if self.floor else {}
        if self.heard_late:
            flags[sla.HEARD_LATE] = True
        if self.impersonation:
            flags["impersonation"] = dict(self.impersonation)
        return flags | {
            "score": self.score,
            "band": self.band,
            "reason": self.reason,
            "factors": [
                {
                    "name": f.name,
                    "value": round(f.value, 3),
                    "weight": f.weight,
                    "points": round(f.points, 1),
                    "detail": f.detail,
                }
                for f in self.factors
            ],
            "observed": {
                "engagement": self.engagement,
                "at": self.computed_at.isoformat() if self.computed_at else None,
            },
            "computed_at": self.computed_at.isoformat() if self.computed_at else None,
        }


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _log_ratio(value: float, full: float) -> float:
    return _clamp(math.log1p(max(value, 0.0)) / math.log1p(full))


def human_count(n: int) -> str:
    """48000 → 48k, 1250000 → 1.2M."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if n >= 10_000:
        return f"{n // 1000}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return str(n)


def human_minutes(delta: timedelta) -> str:
    """A duration as '25 min', '3 h' or '2 d'."""
    minutes = int(abs(delta.total_seconds()) // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def engagement_of(i: PriorityInputs) -> int:
    """Likes plus reposts and replies (which spread a post further); else the platform score."""
    total = (i.likes or 0) + 2 * (i.reposts or 0) + 2 * (i.replies or 0)
    if total == 0 and i.score:
        total = max(i.score, 0)
    return total


def _intent(i: PriorityInputs) -> tuple[float, str | None]:
    found = [x for x in i.intents if x in INTENT_VALUES]
    if not found:
        return 0.0, None
    value = max(INTENT_VALUES[x] for x in found)
    urgent = [x for x in found if INTENT_VALUES[x] >= 0.5]
    names = [INTENT_NAMES.get(x, x) for x in (urgent or found)]
    return value, ", ".join(names)


def _sentiment(i: PriorityInputs) -> tuple[float, str | None]:
    if i.sentiment_label is None or i.sentiment_score is None:
        return 0.0, None
    strength = _clamp(abs(i.sentiment_score))
    if i.sentiment_label == "negative":
        return strength, "very negative" if strength >= 0.6 else "negative"
    if i.sentiment_label == "positive":
        return 0.25 * strength, "positive"
    return 0.0, None


def _reach(i: PriorityInputs, config: PriorityConfig) -> tuple[float, str | None]:
    if not i.followers:
        return 0.0, None
    full = config.reach_followers.get(i.platform) or config.reach_followers.get("default", 10_000)
    return _log_ratio(i.followers, full), f"author with {human_count(i.followers)} followers"


def _growth(i: PriorityInputs, engagement: int, now: datetime) -> tuple[float, str | None]:
    previous = i.previous or {}
    try:
        since = datetime.fromisoformat(previous["at"])
        gained = engagement - int(previous["engagement"])
    except (KeyError, TypeError, ValueError):
        since, gained = i.created_at, engagement
    hours = max(now - since, MIN_GROWTH_WINDOW).total_seconds() / 3600
    rate = max(gained, 0) / hours
    if rate < 1:
        return _log_ratio(rate, GROWTH_FULL_PER_HOUR), None
    return _log_ratio(rate, GROWTH_FULL_PER_HOUR), f"engagement +{rate:.0f}/h"


def _keywords(i: PriorityInputs, config: PriorityConfig) -> tuple[float, str | None]:
    language = (i.language or "").split("-")[0]
    hits: set[str] = set()
    for key in (language, "*"):
        pattern = config.urgent_words.get(key)
        if pattern is not None:
            hits |= {m.group(1).lower() for m in pattern.finditer(i.text)}
    if not hits:
        return 0.0, None
    shown = ", ".join(f'"{h}"' for h in sorted(hits)[:3])
    return _clamp(0.6 * len(hits)), f"urgent words: {shown}"


def _sla(due_at: datetime | None, band: str, config: PriorityConfig, now: datetime) -> Factor:
    weight = config.weights.get("sla", 0.0)
    if due_at is None:
        return Factor("sla", 0.0, weight, 0.0)
    left = due_at - now
    if left <= timedelta(0):
        return Factor("sla", 1.0, weight, weight, f"SLA breached {human_minutes(left)} ago")
    target = timedelta(minutes=config.sla_minutes[band])
    value = _clamp(1 - left / target)
    return Factor("sla", value, weight, weight * value, f"SLA due in {human_minutes(left)}")


def compute_priority(
    inputs: PriorityInputs, *, config: PriorityConfig, now: datetime
) -> PriorityResult:
    """Score one mention; pure (no database), so it is cheap to test and to explain."""
    engagement = engagement_of(inputs)
    age_hours = max((now - inputs.created_at).total_seconds(), 0.0) / 3600
    raw: dict[str, tuple[float, str | None]] = {
        "intent": _intent(inputs),
        "sentiment": _sentiment(inputs),
        "reach": _reach(inputs, config),
        "engagement": (
            _log_ratio(engagement, ENGAGEMENT_FULL),
            f"{engagement} interactions" if engagement >= 10 else None,
        ),
        "growth": _growth(inputs, engagement, now),
        "recency": (0.5 ** (age_hours / config.half_life_hours), None),
        "keywords": _keywords(inputs, config),
    }
    factors = [
        Factor(name, value, config.weights.get(name, 0.0), config.weights.get(name, 0.0) * value, d)
        for name, (value, d) in raw.items()
    ]
    spam = "spam" in inputs.intents and not inputs.impersonation
    multiplier = SPAM_MULTIPLIER if spam else 1.0
    base_weight = sum(f.weight for f in factors)
    base = 100 * sum(f.points for f in factors) / base_weight * multiplier if base_weight else 0.0
    band = sla.band_for(base, config.bands)
    sla_band: str | None
    due_at: datetime | None
    lag = inputs.received_at - inputs.created_at
    heard_late = inputs.first_response_at is None and lag > config.heard_late_after
    if heard_late:  # one clock: no fresh deadline for a post heard long after it was written
        sla_band, due_at = None, None
        factors.append(Factor("sla", 0.0, config.weights.get("sla", 0.0), 0.0, None))
    elif inputs.first_response_at is None:
        sla_band = sla.stricter(band, inputs.sla_band)
        due_at = sla.due_at_for(inputs.created_at, sla_band, config.sla_minutes)
        factors.append(_sla(due_at, sla_band, config, now))
    else:  # answered: the deadline that applied is history, and no longer urgent
        sla_band, due_at = inputs.sla_band, inputs.due_at
        factors.append(Factor("sla", 0.0, config.weights.get("sla", 0.0), 0.0, None))
    total_weight = sum(f.weight for f in factors)
    score = 100 * sum(f.points for f in factors) / total_weight * multiplier if total_weight else 0
    shown = [f.detail for f in factors if f.detail and f.points >= REASON_MIN_POINTS]
    flagged = []
    if inputs.impersonation:
        flagged.append(f"possible impersonation: {inputs.impersonation.get('reason')}")
        score = max(score, IMPERSONATION_SCORE)
    if heard_late:
        flagged.append(f"heard late ({human_minutes(lag)} after posting; no SLA)")
    reason = ", ".join(flagged + (["likely spam"] if spam else []) + [d for d in shown if d])
    floor = inputs.floor or {}
    if isinstance(floor.get("at_least"), int) and floor["at_least"] > score:
        score = floor["at_least"]
        reason = ", ".join(r for r in (str(floor.get("reason") or "raised"), reason) if r)
    return PriorityResult(
        score=max(0, min(100, round(score))),
        base=round(base),
        band=band,
        sla_band=sla_band,
        due_at=due_at,
        reason=reason or "nothing urgent",
        factors=factors,
        engagement=engagement,
        computed_at=now,
        floor=inputs.floor,
        heard_late=heard_late,
        impersonation=inputs.impersonation,
    )


_COLUMNS = (
    QueueItem.mention_id,
    QueueItem.received_at,
    QueueItem.sla_band,
    QueueItem.due_at,
    QueueItem.first_response_at,
    QueueItem.priority_explain,
    Mention.platform,
    Mention.language,
    Mention.text,
    Mention.intents,
    Mention.sentiment_label,
    Mention.sentiment_score,
    Mention.likes,
    Mention.reposts,
    Mention.replies,
    Mention.score,
    Mention.created_at,
    Author.followers,
    Author.handle,
    Author.display_name,
    Author.own_account_id,
)


def _inputs(row: Any, brands: Sequence[str] = ()) -> PriorityInputs:
    explain = row.priority_explain or {}
    return PriorityInputs(
        platform=row.platform,
        language=row.language,
        text=row.text,
        intents=list(row.intents or []),
        sentiment_label=row.sentiment_label,
        sentiment_score=row.sentiment_score,
        followers=row.followers,
        likes=row.likes,
        reposts=row.reposts,
        replies=row.replies,
        score=row.score,
        created_at=row.created_at,
        received_at=row.received_at,
        sla_band=row.sla_band,
        due_at=row.due_at,
        first_response_at=row.first_response_at,
        previous=explain.get("observed") if isinstance(explain, dict) else None,
        floor=explain.get("floor") if isinstance(explain, dict) else None,
        impersonation=_impersonation(row, brands),
    )


def _impersonation(row: Any, brands: Sequence[str]) -> dict[str, Any] | None:
    if not brands or row.own_account_id is not None:
        return None
    verdict = impersonation.detect(
        handle=row.handle, display_name=row.display_name, text=row.text, brands=brands
    )
    return verdict.as_dict() if verdict else None


def _chunks(ids: Iterable[int], size: int = CHUNK) -> Iterable[list[int]]:
    unique = sorted(set(ids))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]


#: Items per round trip on PostgreSQL, where the ids and the new values travel as arrays.
ARRAY_CHUNK = 10_000

# One UPDATE for the whole chunk (PostgreSQL): the new values travel as arrays, joined by
# mention id. Sets exactly the columns the ORM's bulk update by primary key set.
_UPDATE_SCORES = text(
    "UPDATE queue_items SET priority = v.priority, priority_explain = CAST(v.explain AS JSONB), "
    "priority_computed_at = v.computed_at, sla_band = v.sla_band, due_at = v.due_at "
    "FROM unnest(CAST(:mention_ids AS BIGINT[]), CAST(:priorities AS INTEGER[]), "
    "CAST(:explains AS TEXT[]), CAST(:computed_ats AS TIMESTAMPTZ[]), "
    "CAST(:sla_bands AS VARCHAR[]), CAST(:due_ats AS TIMESTAMPTZ[])) "
    "AS v(mention_id, priority, explain, computed_at, sla_band, due_at) "
    "WHERE queue_items.mention_id = v.mention_id"
)


async def _store_scores(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(update(QueueItem), values)
        return
    await session.execute(
        _UPDATE_SCORES,
        {
            "mention_ids": [v["mention_id"] for v in values],
            "priorities": [v["priority"] for v in values],
            "explains": [orjson.dumps(v["priority_explain"]).decode() for v in values],
            "computed_ats": [v["priority_computed_at"] for v in values],
            "sla_bands": [v["sla_band"] for v in values],
            "due_ats": [v["due_at"] for v in values],
        },
    )


async def refresh_priorities(
    session: AsyncSession,
    *,
    mention_ids: Iterable[int],
    config: PriorityConfig,
    now: datetime | None = None,
) -> int:
    """Recompute and store priority, explanation and SLA due time for these mentions."""
    now = now or utcnow()
    done = 0
    brands: list[str] | None = None
    size = ARRAY_CHUNK if session.get_bind().dialect.name == "postgresql" else CHUNK
    for chunk in _chunks(mention_ids, size):
        if brands is None:
            brands = await brand_names(session, config.brand_terms)
        rows = await session.execute(
            select(*_COLUMNS)
            .join(Mention, Mention.id == QueueItem.mention_id)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(ids_in(session, QueueItem.mention_id, chunk))
        )
        values = []
        moved: list[int] = []
        for row in rows:
            result = compute_priority(_inputs(row, brands or ()), config=config, now=now)
            previous = row.priority_explain.get("band") if row.priority_explain else None
            if previous is not None and previous != result.band:
                moved.append(row.mention_id)
            values.append(
                {
                    "mention_id": row.mention_id,
                    "priority": result.score,
                    "priority_explain": result.explain(),
                    "priority_computed_at": now,
                    "sla_band": result.sla_band,
                    "due_at": result.due_at,
                }
            )
        if values:
            await _store_scores(session, values)
            done += len(values)
        # A first score is part of mention.created; later, only a change of band is news.
        await record_mention_events(session, MENTION_UPDATED, moved, changes=["priority_band"])
    return done


async def refresh_stale_priorities(
    session: AsyncSession,
    *,
    config: PriorityConfig,
    older_than: timedelta,
    limit: int,
    now: datetime | None = None,
) -> int:
    """Refresh the waiting items whose score is oldest (recency and SLA factors move with time)."""
    now = now or utcnow()
    ids = (
        await session.execute(
            select(QueueItem.mention_id)
            .where(
                QueueItem.status.in_([s.value for s in sla.WAITING]),
                or_(
                    QueueItem.priority_computed_at.is_(None),
                    QueueItem.priority_computed_at < now - older_than,
                ),
            )
            .order_by(QueueItem.priority_computed_at.nulls_first())
            .limit(limit)
        )
    ).scalars()
    return await refresh_priorities(session, mention_ids=list(ids), config=config, now=now)

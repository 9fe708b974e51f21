"""Priority: a 0-100 score that says why, recomputed when its inputs change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.wiring import build_reactions
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.queue import reactions, workflow
from moderation.queue.priority import PriorityConfig, PriorityInputs, compute_priority
from tests.factories import mention

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CONFIG = PriorityConfig.from_settings(Settings())
HALF = timedelta(hours=12)  # the default recency half-life
NEGATIVE_08: dict[str, object] = {"sentiment_label": "negative", "sentiment_score": -0.8}


def inputs(**overrides: object) -> PriorityInputs:
    base = PriorityInputs(
        platform="mastodon",
        language="en",
        text="Nice weather today",
        intents=[],
        sentiment_label=None,
        sentiment_score=None,
        followers=None,
        likes=0,
        reposts=0,
        replies=0,
        score=None,
        created_at=NOW - timedelta(minutes=5),
        received_at=NOW - timedelta(minutes=5),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_an_urgent_question_outranks_small_talk_and_the_reason_says_why() -> None:
    urgent = compute_priority(
        inputs(
            text="Is the app down? I cannot pay",
            intents=["question"],
            sentiment_label="negative",
            sentiment_score=-0.5,
            followers=48_000,
        ),
        config=CONFIG,
        now=NOW,
    )
    chatter = compute_priority(inputs(), config=CONFIG, now=NOW)

    assert urgent.score > chatter.score + 30
    assert urgent.reason.startswith("question, negative, author with 48k followers")
    assert '"down"' in urgent.reason
    assert "SLA due in" in urgent.reason
    assert {f["name"] for f in urgent.explain()["factors"]} == set(CONFIG.weights)


def config_with(**weights: float) -> PriorityConfig:
    """The default settings with only `weights` counting."""
    return PriorityConfig.from_settings(Settings(priority_weights=weights))


# Hand-computed from the specification: the score is 100 x the weighted mean of the factor
# values; intents count complaint/help request 1.0, question 0.9, praise 0.2; recency halves
# every 12 h; 200 interactions (reposts and replies count twice) is full engagement; spam x 0.3.
@pytest.mark.parametrize(
    ("weights", "overrides", "expected"),
    [
        ({"intent": 1}, {"intents": ["question"]}, 90),
        ({"intent": 1}, {"intents": ["praise"]}, 20),
        ({"intent": 1}, {"intents": ["praise", "help_request"]}, 100),
        ({"intent": 1}, {"intents": ["complaint", "spam"]}, 30),
        ({"intent": 3, "recency": 1}, {"intents": ["complaint"], "created_at": NOW - HALF}, 88),
        ({"recency": 1}, {"created_at": NOW - 2 * HALF}, 25),
        ({"intent": 1, "sentiment": 1}, {"intents": ["complaint"], **NEGATIVE_08}, 90),
        ({"sentiment": 1}, {"sentiment_label": "positive", "sentiment_score": 0.8}, 20),
        ({"engagement": 1}, {"likes": 200}, 100),
        ({"engagement": 1}, {"reposts": 60, "replies": 40}, 100),
        ({"engagement": 1}, {"likes": 0}, 0),
    ],
    ids=[
        "question",
        "praise",
        "strongest-intent-wins",
        "spam-sinks-to-30-percent",
        "complaint-at-one-half-life",
        "two-half-lives",
        "complaint-and-negative",
        "positive-counts-a-quarter",
        "full-engagement",
        "reposts-and-replies-count-twice",
        "no-engagement",
    ],
)
def test_hand_computed_scores(
    weights: dict[str, float], overrides: dict[str, object], expected: int
) -> None:
    result = compute_priority(inputs(**overrides), config=config_with(**weights), now=NOW)
    assert result.score == expected


def test_intents_rank_complaint_then_question_then_praise_then_none() -> None:
    scores = [
        compute_priority(inputs(intents=intents), config=CONFIG, now=NOW).score
        for intents in (["complaint"], ["question"], ["praise"], [])
    ]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 4


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("followers", [None, 10, 500, 5_000, 50_000, 10**7]),
        ("likes", [0, 1, 10, 100, 1_000, 10**6]),
        ("sentiment_score", [-0.05, -0.3, -0.6, -0.9, -1.0]),
    ],
)
def test_more_reach_engagement_or_negativity_never_lowers_the_score(
    field: str, values: list[object]
) -> None:
    base = {"intents": ["question"], "sentiment_label": "negative", "sentiment_score": -0.1}
    scores = [
        compute_priority(inputs(**(base | {field: v})), config=CONFIG, now=NOW).score
        for v in values
    ]
    assert scores == sorted(scores)
    assert scores[-1] > scores[0]
    assert all(0 <= s <= 100 for s in scores)


def test_older_mentions_never_score_higher_on_recency() -> None:
    recency_only = config_with(recency=1)
    ages = [timedelta(0), timedelta(hours=1), timedelta(hours=12), timedelta(days=3)]
    scores = [
        compute_priority(inputs(created_at=NOW - age), config=recency_only, now=NOW).score
        for age in ages
    ]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 100


def test_weights_come_from_settings() -> None:
    only_intent = PriorityConfig.from_settings(Settings(priority_weights={"intent": 1}))
    assert compute_priority(inputs(intents=["complaint"]), config=only_intent, now=NOW).score == 100
    assert compute_priority(inputs(followers=10**6), config=only_intent, now=NOW).score == 0


def test_urgent_words_are_per_language() -> None:
    dutch = compute_priority(
        inputs(language="nl", text="Weer een storing!"), config=CONFIG, now=NOW
    )
    english_reader = compute_priority(inputs(text="Weer een storing!"), config=CONFIG, now=NOW)
    assert 'urgent words: "storing"' in dutch.reason
    assert "urgent words" not in english_reader.reason


def test_likely_spam_sinks() -> None:
    loud = inputs(intents=["question", "spam"], followers=50_000, text="URGENT free money")
    result = compute_priority(loud, config=CONFIG, now=NOW)
    honest = compute_priority(replace(loud, intents=["question"]), config=CONFIG, now=NOW)
    assert result.score < honest.score / 2
    assert result.reason.startswith("likely spam")


def test_an_overdue_item_says_its_sla_is_breached() -> None:
    old = inputs(received_at=NOW - timedelta(days=2), created_at=NOW - timedelta(days=2))
    result = compute_priority(old, config=CONFIG, now=NOW)
    assert result.due_at is not None and result.due_at < NOW
    assert "SLA breached" in result.reason


def test_the_sla_band_only_tightens_while_waiting() -> None:
    once_urgent = inputs(sla_band="urgent")
    result = compute_priority(once_urgent, config=CONFIG, now=NOW)
    assert result.band == "low"
    assert result.sla_band == "urgent"
    assert result.due_at == once_urgent.received_at + timedelta(minutes=30)


def test_growth_compares_with_the_last_observation() -> None:
    before = {"engagement": 10, "at": (NOW - timedelta(hours=1)).isoformat()}
    rising = compute_priority(inputs(likes=110, previous=before), config=CONFIG, now=NOW)
    flat = compute_priority(inputs(likes=10, previous=before), config=CONFIG, now=NOW)
    assert "engagement +100/h" in rising.reason
    assert rising.score > flat.score


async def test_ingest_scores_new_mentions_and_rescores_changed_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert reactions.HOOK_NAME in build_reactions(Settings()).names
    quiet = mention(1, text="Nice ride", created_at=datetime.now(UTC).isoformat())
    async with sessions() as session, session.begin():
        (mention_id,) = (await ingest_mentions(session, [quiet])).new_mention_ids
    async with sessions() as session:
        first = await workflow.get_queue_item(session, mention_id=mention_id)
    assert first.priority_explain is not None
    assert first.due_at is not None and first.version == 1

    # The author edits the post and it takes off: both are inputs.
    busy = quiet | {
        "text": "Nice ride, but the app is broken again",
        "engagement": {"likes": 300, "reposts": 40, "replies": 25},
    }
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [busy])
    assert report.updated_mention_ids == [mention_id]
    async with sessions() as session:
        again = await workflow.get_queue_item(session, mention_id=mention_id)

    assert again.priority > first.priority + 15
    assert again.priority_explain is not None
    reason = again.priority_explain["reason"]
    assert '"broken"' in reason and "430 interactions" in reason and "engagement +" in reason
    assert again.version == 1  # rescoring is not a staff write: nobody's version goes stale


def test_a_floor_set_by_an_event_holds_and_says_why() -> None:
    floor = {"at_least": 70, "reason": "answers our question 3"}
    result = compute_priority(inputs(floor=floor), config=CONFIG, now=NOW)
    assert result.score == 70
    assert result.reason.startswith("answers our question 3")
    assert result.explain()["floor"] == floor


async def test_rescoring_keeps_a_raised_priority(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from moderation.queue.priority import refresh_priorities

    async with sessions() as session, session.begin():
        (mention_id,) = (await ingest_mentions(session, [mention(1)])).new_mention_ids
        await workflow.raise_priority(
            session, mention_id=mention_id, at_least=70, reason="answers question 3"
        )
    async with sessions() as session, session.begin():
        await refresh_priorities(session, mention_ids=[mention_id], config=CONFIG)
    async with sessions() as session:
        item = await workflow.get_queue_item(session, mention_id=mention_id)
    assert item.priority == 70
    assert item.priority_explain is not None
    assert item.priority_explain["reason"].startswith("answers question 3")

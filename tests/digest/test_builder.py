"""Digest numbers match the hand-counted history of tests/digest/data.py on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.builder import build_digest
from listener.digest.document import DigestDocument
from listener.digest.periods import Period
from listener.digest.query import MentionFilter
from listener.models import Author, Mention, QueueItem
from listener.models.privacy import ERASED_PREFIX
from tests.digest.data import MENTIONS, TZ, History

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def _build(
    sessions: async_sessionmaker[AsyncSession],
    week: str = "2026-W47",
    tz: str = TZ,
    filt: MentionFilter | None = None,
) -> dict[str, Any]:
    async with sessions() as session:
        built = await build_digest(
            session, period=Period.week(week, tz), filt=filt, target_hours=8, now=NOW
        )
    return built.model_dump(mode="json")


@pytest.fixture
def digest(w47: DigestDocument) -> dict[str, Any]:
    """The 2026-W47 digest in Amsterdam time (built once per backend), as stored."""
    return w47.model_dump(mode="json")


def test_volume_counts_the_week_in_local_time_against_last_week_and_the_baseline(
    digest: dict[str, Any],
) -> None:
    volume = digest["volume"]
    assert (volume["total"], volume["previous"]) == (10, 4)
    assert volume["change"] == 1.5
    assert volume["baseline_mean"] == 2.0
    assert volume["change_vs_baseline"] == 4.0
    assert [w["count"] for w in volume["trend"]] == [1, 1, 2, 4, 10]
    assert volume["trend"][0]["label"] == "2026-W43"
    assert [d["count"] for d in volume["per_day"]] == [2, 0, 3, 1, 1, 1, 2]
    assert volume["per_day"][0]["date"] == "2026-11-16"


def test_volume_per_source_and_language(digest: dict[str, Any]) -> None:
    by_source = {s["source"]: (s["count"], s["previous"]) for s in digest["volume"]["by_source"]}
    assert by_source == {"masto": (6, 3), "reddit": (4, 1)}
    assert digest["volume"]["by_source"][0]["platform"] == "mastodon"
    by_language = {s["language"]: s["count"] for s in digest["volume"]["by_language"]}
    assert by_language == {"en": 5, "nl": 4, "und": 1}


def test_sentiment_shares_leave_out_untagged_mentions(digest: dict[str, Any]) -> None:
    sentiment = digest["sentiment"]
    assert sentiment["counts"] == {"positive": 3, "neutral": 2, "negative": 4}
    assert (sentiment["tagged"], sentiment["untagged"]) == (9, 1)
    assert sentiment["shares"] == {"positive": 0.3333, "neutral": 0.2222, "negative": 0.4444}
    assert sentiment["previous_shares"] == {"positive": 0.75, "neutral": 0.25, "negative": 0.0}
    assert sentiment["change_points"]["negative"] == 0.4444
    wednesday = sentiment["per_day"][2]
    assert (wednesday["negative"], wednesday["neutral"], wednesday["positive"]) == (2, 1, 0)
    assert any(n["code"] == "some_sentiment" for n in digest["notes"])


def test_topics_rise_and_fall_with_example_mentions(digest: dict[str, Any]) -> None:
    topics = digest["topics"]
    assert [(t["topic"], t["count"], t["previous"]) for t in topics["top"]] == [
        ("outage", 5, 0),
        ("app", 3, 2),
        ("pricing", 1, 2),
    ]
    assert topics["mentions_with_topic"] == 8
    assert [t["topic"] for t in topics["rising"]] == ["outage", "app"]
    outage = topics["rising"][0]
    assert [e["text"] for e in outage["examples"]] == [
        "Why is Fietsbaan down again? #storing",
        "Alle docks kapot bij Centraal #storing",
    ]
    [pricing] = topics["falling"]
    assert pricing["topic"] == "pricing"
    assert pricing["examples"][0]["text"] == "Fietsbaan pricing is fair"  # last week's, faded


def test_emergent_terms_grew_and_are_not_in_the_taxonomy(digest: dict[str, Any]) -> None:
    terms = digest["emergent_terms"]
    # "#storing" grew as much, but it is the outage topic's Dutch keyword.
    assert [(t["term"], t["kind"], t["count"], t["previous"]) for t in terms["terms"]] == [
        ("docks kapot", "phrase", 4, 0)
    ]
    assert terms["sampled"] is False


def test_top_authors_by_reach_and_loyal_voices_worth_thanking(digest: dict[str, Any]) -> None:
    authors = digest["authors"]
    assert [(a["handle"], a["mentions"], a["reach"]) for a in authors["by_reach"]] == [
        ("@bram", 2, 100_000),
        ("@anna", 3, 3000),
        ("@dana", 2, 400),
    ]
    loyal = [
        (a["handle"], a["windows_active"], a["mentions_total"], a["positive"], a["worth_thanking"])
        for a in authors["loyal"]
    ]
    assert loyal == [
        ("@anna", 3, 6, 6, True),
        ("@bram", 3, 4, 2, False),
        ("@dana", 3, 4, 0, False),
        ("@chris", 2, 3, 0, False),
    ]


def test_questions_still_waiting_include_older_ones(digest: dict[str, Any]) -> None:
    questions = digest["questions"]
    assert (questions["asked"], questions["unanswered"], questions["unanswered_total"]) == (5, 2, 3)
    assert questions["unanswered_past_target"] == 2
    assert [q["text"] for q in questions["oldest"]] == [
        "Wat kost Fietsbaan Plus per maand?",
        "Why is Fietsbaan down again? #storing",
        "Weer docks kapot, wanneer is dit opgelost? #storing",
    ]


def test_response_times_use_the_first_answer_and_count_target_misses(
    digest: dict[str, Any],
) -> None:
    response = digest["response"]
    # One clock (issue 12): mention 5 was resolved without an answer, which is its own outcome
    # and no longer a response (it used to count as 3 responses: 0.5 h, 2 h and 10 h).
    assert response["responded"] == 2
    assert (response["median_seconds"], response["p90_seconds"]) == (1800.0, 7200.0)
    assert (response["within_target"], response["missed_target"]) == (2, 0)


def test_moderation_throughput_per_status_and_person(digest: dict[str, Any]) -> None:
    flow = digest["throughput"]
    assert flow["by_status"] == {"answered": 2, "open": 1, "resolved": 2}
    assert (flow["actions"], flow["closed"], flow["people"]) == (5, 4, 2)
    assert flow["by_person"] == [{"actor": "mod-a", "actions": 3}, {"actor": "mod-b", "actions": 2}]


def test_most_engaged_mentions_and_alerts_of_the_week(digest: dict[str, Any]) -> None:
    assert [m["engagement"] for m in digest["engaged"]] == [50, 20, 5, 4, 3]
    assert digest["alerts"]["count"] == 1
    assert digest["alerts"]["items"][0]["key"] == "outage"


async def test_the_same_week_in_utc_moves_the_boundary_mentions(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    utc = await _build(sessions, tz="UTC")
    # Monday 00:30 Amsterdam is Sunday in UTC (week 46); Monday 23 Nov 00:30 is week 47 in UTC.
    assert utc["volume"]["total"] == 10
    assert utc["volume"]["per_day"][0]["count"] == 1
    assert utc["volume"]["per_day"][-1]["count"] == 3
    assert utc["period"]["start"] == "2026-11-16T00:00:00+00:00"


async def test_a_week_that_ends_with_the_dst_change_keeps_its_last_hour(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    week = await _build(sessions, week="2026-W43")
    # Sunday 25 Oct has 25 hours in Amsterdam; a post at 23:30 CET still belongs to it.
    assert week["volume"]["total"] == 1
    assert week["volume"]["per_day"][-1] == {"date": "2026-10-25", "count": 1}
    assert week["period"]["end"] == "2026-10-25T23:00:00+00:00"


async def test_an_empty_week_is_quiet_and_complete(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    empty = await _build(sessions, week="2026-W30")
    assert empty["quiet"] is True
    assert empty["volume"]["total"] == 0
    assert empty["volume"]["change"] is None
    assert empty["sentiment"]["shares"] == {"positive": None, "neutral": None, "negative": None}
    assert empty["topics"]["top"] == [] and empty["emergent_terms"]["terms"] == []
    assert empty["response"]["median_seconds"] is None
    assert [n["code"] for n in empty["notes"]] == ["quiet"]


async def test_a_topic_filter_narrows_every_section(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    outage = await _build(sessions, filt=MentionFilter.of(topics=["outage"]))
    assert outage["volume"]["total"] == 5
    assert [t["topic"] for t in outage["topics"]["top"]] == ["outage"]
    assert outage["questions"]["asked"] == 4
    # One clock: of the two outage mentions closed, mention 5 was resolved without an answer.
    assert outage["response"]["responded"] == 1


async def test_a_source_filter_matches_source_names_and_platforms(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    by_name = await _build(sessions, filt=MentionFilter.of(sources=["reddit"]))
    by_platform = await _build(sessions, filt=MentionFilter.of(sources=["mastodon"]))
    assert (by_name["volume"]["total"], by_platform["volume"]["total"]) == (4, 6)


async def test_sla_results_recorded_by_triage_are_counted(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    if not hasattr(QueueItem, "sla_outcome"):
        pytest.skip("the queue does not record SLA outcomes in this tree")
    async with sessions() as session, session.begin():
        for n, outcome, due_hours in ((4, "met", 4), (5, "missed", 4), (2, None, 1), (9, None, 1)):
            item = await session.get(QueueItem, history.mentions[n])
            assert item is not None
            created = MENTIONS[n][0].astimezone(UTC)
            item.sla_outcome = outcome
            item.due_at = created + timedelta(hours=due_hours)
    sla = (await _build(sessions))["sla"]
    assert sla == {
        "available": True,
        "met": 1,
        "missed": 1,
        "waiting_past_due": 2,
        "with_target": 4,
    }


async def test_gone_and_erased_mentions_count_but_are_never_quoted(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    # Mention 14, the oldest waiting question, was deleted on its platform (its words dropped);
    # mention 2, the week's most engaged, is an erasure's tombstone; anna was erased.
    gone, erased = history.mentions[14], history.mentions[2]
    async with sessions() as session, session.begin():
        await session.execute(
            update(Mention).where(Mention.id == gone).values(text="", deleted_at_source=NOW)
        )
        await session.execute(
            update(Mention)
            .where(Mention.id == erased)
            .values(text="", url=None, external_id=f"{ERASED_PREFIX}{erased}")
        )
        await session.execute(
            update(Author)
            .where(Author.id == history.authors["anna"])
            .values(
                platform_id=f"{ERASED_PREFIX}{history.authors['anna']}",
                handle=None,
                display_name=None,
                followers=None,
            )
        )
    digest = await _build(sessions)

    assert digest["volume"]["total"] == 10
    questions = digest["questions"]
    assert (questions["asked"], questions["unanswered"], questions["unanswered_total"]) == (5, 2, 3)
    assert [q["text"] for q in questions["oldest"]] == [
        "Weer docks kapot, wanneer is dit opgelost? #storing"
    ]
    assert [m["engagement"] for m in digest["engaged"]] == [20, 5, 4, 3, 2]
    examples = [
        card["id"]
        for key in ("top", "rising", "falling")
        for stat in digest["topics"][key]
        for card in stat.get("examples") or []
    ]
    assert examples and not {gone, erased} & set(examples)
    assert [a["handle"] for a in digest["authors"]["loyal"]] == ["@bram", "@dana", "@chris"]
    assert [a["handle"] for a in digest["authors"]["by_reach"]] == ["@bram", "@dana"]

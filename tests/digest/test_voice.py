"""The digest's share-of-voice section: three subjects over a week, counted by hand, on both
backends; rendered as a chart and a table in HTML and as numbers in plain text; absent when no
subject is defined."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.builder import build_digest
from listener.digest.charts import chart_names, digest_charts
from listener.digest.document import DigestDocument
from listener.digest.periods import Period
from listener.digest.render import render, to_markdown
from listener.models import VoiceSubject
from moderation.queue.voice import share_of_voice
from tests.digest.data import TZ
from tests.digest.voice_data import store_voice_history

WEEK = Period.week("2026-W47", TZ)
NOW = datetime.fromisoformat("2026-11-23T09:00:00+00:00")
PNG = b"\x89PNG\r\n\x1a\n"


async def _digest(
    sessions: async_sessionmaker[AsyncSession], *, subjects: bool = True
) -> DigestDocument:
    async with sessions() as session, session.begin():
        await store_voice_history(session, subjects=subjects)
    async with sessions() as session:
        return await build_digest(session, period=WEEK, target_hours=8, now=NOW)


def _row(x: Any) -> tuple[Any, ...]:
    return (
        x.name,
        x.kind,
        x.mentions,
        x.share,
        (x.positive, x.neutral, x.negative),
        x.net_sentiment,
        x.reach,
        x.reach_share,
        x.previous,
        x.previous_share,
        x.change,
        x.share_change_points,
    )


async def test_three_subjects_over_a_week_match_the_hand_counted_numbers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    data = await _digest(sessions)
    section = data.share_of_voice
    assert section is not None
    # This week (local days): Fietsbaan in 1, 2, 4, 7; Velomax in 3, 4, 6; Groene Fiets in 5.
    # Mention 4 names both Fietsbaan and Velomax and counts for both: 4 + 3 + 1 = 8. Mention 1
    # (Sunday 23:30 UTC) is this week in Amsterdam; 10 (Monday 00:30 local) is next week; 8 was
    # deleted at its source; 9 names no subject.
    # Last week: Fietsbaan in 11 and 14 (Sunday 23:59 local), Velomax in 12 and 13: 2 + 2 = 4.
    assert (section.mentions, section.previous) == (8, 4)
    assert [_row(x) for x in section.subjects] == [
        # 2 positive (1, 7), 1 neutral (4), 1 negative (2): net (2 - 1) / 4. Authors anna (1,000),
        # bram (200) and chris (unknown, 0): reach 1,200 of 1,200 + 1,000 + 200 = 2,400.
        # 4 / 8 now against 2 / 4 before: +100% mentions, +0 points of share.
        ("Fietsbaan", "brand", 4, 0.5, (2, 1, 1), 0.25, 1200, 0.5, 2, 0.5, 1.0, 0.0),
        # Brand first, then the competitors by name. Groene Fiets: 1 positive by bram (200);
        # none last week, so no relative change, and its share rose from 0 to 1 / 8.
        ("Groene Fiets", "competitor", 1, 0.125, (1, 0, 0), 1.0, 200, 0.0833, 0, 0.0, None, 0.125),
        # Velomax: negative (3), neutral (4), 6 not labelled: net (0 - 1) / 2. Authors chris (0)
        # and anna (1,000). 3 / 8 now against 2 / 4 before: +50%, 37.5 - 50 = -12.5 points.
        ("Velomax", "competitor", 3, 0.375, (0, 1, 1), -0.5, 1000, 0.4167, 2, 0.5, 0.5, -0.125),
    ]
    # The API's share of voice counts the same way over the same instants.
    async with sessions() as session:
        found = await share_of_voice(session, since=WEEK.start, until=WEEK.end, period="week")
    assert {v.name: (v.mentions, v.reach) for v in found.totals} == {
        x.name: (x.mentions, x.reach) for x in section.subjects
    }
    # The JSON the API returns and the database stores carries the section.
    stored = data.model_dump(mode="json")["share_of_voice"]
    assert stored["subjects"][0]["name"] == "Fietsbaan"
    assert DigestDocument.model_validate(data.model_dump(mode="json")) == data


async def test_the_section_renders_a_chart_and_the_numbers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    data = await _digest(sessions)
    assert "voice" in chart_names(data)
    assert digest_charts(data, "en")["voice"].startswith(PNG)

    text = to_markdown(data, "en")
    assert "## Share of voice\n" in text
    assert "Share of voice: Fietsbaan 50% (+0.0 pt), Groene Fiets 12% (+12.5 pt)" in text
    assert "| Fietsbaan (our brand) | 4 | 50% | 2 | +100% | +0.0 pt | 2 | 1 | 1 | 1,200 |" in text
    assert "| Groene Fiets (competitor) | 1 | 12% | 0 | n/a | +12.5 pt | 1 | 0 | 0 | 200 |" in text
    assert "| Velomax (competitor) | 3 | 38% | 2 | +50% | −12.5 pt | 0 | 1 | 1 | 1,000 |" in text
    # Before the topics, after sentiment.
    assert text.index("## Sentiment") < text.index("## Share of voice") < text.index("## Topics")

    dutch = to_markdown(data, "nl")
    assert "## Aandeel in het gesprek\n" in dutch
    assert "| Fietsbaan (ons merk) | 4 | 50% | 2 | +100% | +0,0 pp | 2 | 1 | 1 | 1.200 |" in dutch

    html = render(data, "html", "en")
    section = html[html.index(">Share of voice</h2>") : html.index(">Topics</h2>")]
    chart = re.search(
        r'<img src="data:image/png;base64,([^"]+)" width="600" '
        r'alt="Share of voice: this period and the previous one"',
        section,
    )
    assert chart, section
    assert base64.b64decode(chart.group(1)).startswith(PNG)
    for cell in ("Fietsbaan", "our brand", "50%", "+100%", "1,200", "−12.5 pt"):
        assert cell in section


async def test_no_section_without_subjects(sessions: async_sessionmaker[AsyncSession]) -> None:
    data = await _digest(sessions, subjects=False)
    assert data.share_of_voice is None
    assert "share_of_voice" not in data.model_dump(mode="json")
    assert "voice" not in chart_names(data)
    assert "Share of voice" not in to_markdown(data, "en")
    assert "Share of voice" not in render(data, "html", "en")


async def test_subjects_nobody_named_are_listed_without_a_chart(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await store_voice_history(session, subjects=False)
        session.add(VoiceSubject(name="Nobody", query="nobody*", kind="product"))
    async with sessions() as session:
        data = await build_digest(session, period=WEEK, target_hours=8, now=NOW)
        quiet = await build_digest(session, period=Period.week("2026-W44", TZ), now=NOW)
    section = data.share_of_voice
    assert section is not None and section.mentions == 0
    assert [_row(x) for x in section.subjects] == [
        ("Nobody", "product", 0, None, (0, 0, 0), None, 0, None, 0, None, None, None)
    ]
    assert "voice" not in chart_names(data)
    text = to_markdown(data, "en")
    assert "## Share of voice\n" in text
    assert "None of the subjects was mentioned in this period." in text
    assert 'alt="Share of voice' not in render(data, "html", "en")
    # A quiet week shows no section at all, as it shows no other.
    assert quiet.quiet and "Share of voice" not in to_markdown(quiet, "en")


async def test_a_single_day_against_the_day_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await store_voice_history(session)
    # Wednesday 18 Nov: mention 3 (Velomax) and 9 (no subject). Tuesday 17: 2 (Fietsbaan).
    wednesday = WEEK.first_day + timedelta(days=2)
    async with sessions() as session:
        data = await build_digest(session, period=Period.days(wednesday, wednesday, TZ), now=NOW)
    assert data.share_of_voice is not None
    assert [(x.name, x.mentions, x.previous) for x in data.share_of_voice.subjects] == [
        ("Fietsbaan", 0, 1),
        ("Groene Fiets", 0, 0),
        ("Velomax", 1, 0),
    ]
    text = to_markdown(data, "en")
    assert "against the previous period." in text
    assert "| Fietsbaan (our brand) | 0 | 0.0% | 1 | −100% | −100.0 pt |" in text
    assert "| Velomax (competitor) | 1 | 100% | 0 | n/a | +100.0 pt |" in text

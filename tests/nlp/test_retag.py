"""`luister nlp retag` brings stored mentions up to date after the taxonomy or models change."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.nlp.corrections import correct_mention
from listener.nlp.retag import retag_mentions
from tests.factories import BASE_TIME
from tests.listener.conftest import cli_env, luister
from tests.nlp.db_helpers import add_topic, ingest_texts, stored, topics_of

__all__ = ["cli_env"]  # the fixture, shared with the other CLI tests

Sessions = async_sessionmaker[AsyncSession]
TEXTS = ["My parcel is late again", "Lovely weather today", "Where is my parcel?"]


async def test_retag_links_a_new_topic_to_mentions_stored_before_it_existed(
    sessions: Sessions,
) -> None:
    ids = await ingest_texts(sessions, TEXTS)
    await add_topic(sessions, "delivery", {"en": ["parcel"]})
    report = await retag_mentions(sessions, batch_size=2)
    assert report.to_dict() == {"seen": 3, "changed": 2, "unchanged": 1}
    assert [list(await topics_of(sessions, mid)) for mid in ids] == [["delivery"], [], ["delivery"]]
    assert (await stored(sessions, ids[0])).nlp_version.startswith("nlp-1;org-")  # type: ignore[union-attr]
    again = await retag_mentions(sessions)
    assert again.changed == 0


async def test_retag_keeps_staff_corrections_on_top(sessions: Sessions) -> None:
    [mid] = await ingest_texts(sessions, ["I love this parcel service"])
    await add_topic(sessions, "delivery", {"en": ["parcel"]})
    async with sessions() as session, session.begin():
        for field, value in (("sentiment", "negative"), ("topics", [])):
            await correct_mention(
                session, mention_id=mid, field=field, value=value, user_id=None, actor="t"
            )
    await retag_mentions(sessions)
    found = await stored(sessions, mid)
    assert found.sentiment_label == "negative"
    assert await topics_of(sessions, mid) == {}


async def test_retag_re_detects_only_languages_the_platform_did_not_give(
    sessions: Sessions,
) -> None:
    [platform] = await ingest_texts(sessions, ["Ik hou van deze dienst"], language="en")
    [untagged] = await ingest_texts(
        sessions, ["Ik hou echt van deze geweldige dienst"], language=None, tag=False, start=4
    )
    await retag_mentions(sessions)
    assert (await stored(sessions, platform)).language == "en"
    detected = await stored(sessions, untagged)
    assert detected.language == "nl" and detected.sentiment_label == "positive"


async def test_retag_only_touches_mentions_matching_since_and_language(sessions: Sessions) -> None:
    await ingest_texts(sessions, TEXTS[:1], tag=False)
    await ingest_texts(sessions, TEXTS[1:], tag=False, start=10)
    later = BASE_TIME + timedelta(minutes=10)
    assert (await retag_mentions(sessions, since=later)).seen == 2
    assert (await retag_mentions(sessions, language="nl")).seen == 0


@pytest.mark.slow
async def test_retag_command_prints_counts_as_json(
    sessions: Sessions, cli_env: dict[str, str]
) -> None:
    await ingest_texts(sessions, TEXTS, tag=False)
    result = luister("nlp", "retag", "--language", "en", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"seen": 3, "changed": 3, "unchanged": 0}
    assert "re-tagged 3 mentions" in result.stderr

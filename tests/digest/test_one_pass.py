"""The faster digest build gives the same document as the build it replaced.

`generated_week.json` holds the documents the earlier build (about fifteen reads of the week)
made of the generated history in tests/digest/generated.py, on each backend, with no filter
and with two filters. The current build must give them again, number for number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import listening
from listener.digest.builder import build_digest
from tests.digest.generated import FILTERS, NOW, WEEK, store_generated

EXPECTED = Path(__file__).with_name("generated_week.json")
# Sections other features add later are compared by their own tests, not against this file.
LATER = {"incidents"}


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without the sections (and topic labels) added after the expected documents
    were stored; labels are checked to be there, then left out."""
    kept = {k: v for k, v in document.items() if k not in LATER}
    topics = dict(kept["topics"])
    for key in ("top", "rising", "falling"):
        assert all(stat["label"] for stat in topics[key]), key
        topics[key] = [{k: v for k, v in stat.items() if k != "label"} for stat in topics[key]]
    kept["topics"] = topics
    return kept


async def build_all(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    """The week's digest with each of FILTERS, as stored."""
    built = []
    for filt in FILTERS:
        async with sessions() as session:
            document = await build_digest(session, period=WEEK, filt=filt, target_hours=8, now=NOW)
        built.append(comparable(document.model_dump(mode="json")))
    return built


@pytest.mark.parametrize("filter_index", range(len(FILTERS)))
async def test_the_generated_week_gives_the_stored_documents(
    sessions: async_sessionmaker[AsyncSession], database_url: str, filter_index: int
) -> None:
    async with sessions() as session, session.begin():
        await store_generated(session)
    expected = json.loads(EXPECTED.read_text())["sqlite" if "sqlite" in database_url else "pg"]
    async with sessions() as session:
        document = await build_digest(
            session, period=WEEK, filt=FILTERS[filter_index], target_hours=8, now=NOW
        )
    got = comparable(document.model_dump(mode="json"))
    want = expected[filter_index]
    for section in want:
        assert got[section] == want[section], section
    assert got == want
    # The week is big enough to exercise sampling and every section.
    if filter_index == 0:
        assert got["emergent_terms"]["sampled"] and got["emergent_terms"]["terms"]
        assert got["questions"]["oldest"] and got["response"]["responded"]
        assert got["authors"]["loyal"] and got["authors"]["by_reach"]
        assert got["topics"]["rising"] and got["throughput"]["by_person"]


@pytest.mark.parametrize("filter_index", [0, 1])
async def test_topic_examples_do_not_depend_on_the_candidate_pool(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    filter_index: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a pool of three candidates, most rising and falling topics are looked up in the
    one ranked-per-topic read; the examples must be the ones the full pool found."""
    monkeypatch.setattr(listening, "EXAMPLE_CANDIDATES", 3)
    async with sessions() as session, session.begin():
        await store_generated(session)
    expected = json.loads(EXPECTED.read_text())["sqlite" if "sqlite" in database_url else "pg"]
    async with sessions() as session:
        document = await build_digest(
            session, period=WEEK, filt=FILTERS[filter_index], target_hours=8, now=NOW
        )
    topics = comparable(document.model_dump(mode="json"))["topics"]
    assert topics == expected[filter_index]["topics"]
    assert any(len(t["examples"]) == 2 for t in topics["rising"] + topics["falling"])

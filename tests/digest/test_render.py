"""The digest reads well as Markdown and HTML, in English and Dutch, with safe text and charts."""

from __future__ import annotations

import base64
import json
import re

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.builder import build_digest
from listener.digest.charts import digest_charts
from listener.digest.document import DigestDocument
from listener.digest.periods import Period
from listener.digest.render import render, to_html, to_markdown
from tests.digest.data import TZ, History

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Rendering does not depend on the backend: the data comes from SQLite."""
    from listener import migrate
    from tests.conftest import fresh_database

    url = fresh_database("sqlite", tmp_path_factory.mktemp("db"), "digest-render")
    migrate.upgrade(url)
    return url


@pytest.fixture
def digest(w47: DigestDocument) -> DigestDocument:
    """The 2026-W47 digest of the hand-counted history."""
    return w47


def test_markdown_leads_with_the_headline_numbers_and_has_every_section(
    digest: DigestDocument,
) -> None:
    text = to_markdown(digest, "en")
    assert text.startswith("# Listening digest 2026-W47\n")
    assert "10 mentions, +150% against the previous week (4)" in text
    assert "+400% against the average of the 4 before (2.0)" in text
    for heading in (
        "Volume",
        "Sentiment",
        "Topics",
        "Emergent terms",
        "Voices",
        "Questions still waiting",
        "Response times",
        "Moderation",
        "Most engaged mentions",
        "Spike alerts",
    ):
        assert f"## {heading}\n" in text
    assert "| Outage | 5 | 0 | n/a |" in text
    assert "| docks kapot | 4 | 0 |" in text
    # One clock (issue 12): resolving without an answer is no response
    # (it was: 2 h, p90 10 h; 1 missed).
    assert "median first response 30 min, p90 2 h; 2 within the 8 h target, 0 missed" in text
    assert "@anna ★" in text


def test_dutch_digest_uses_dutch_words_and_decimal_commas(digest: DigestDocument) -> None:
    text = to_markdown(digest, "nl")
    assert text.startswith("# Luisterdigest 2026-W47\n")
    assert "10 vermeldingen, +150% ten opzichte van de week ervoor (4)" in text
    assert "negatief 44% (+44,4 pp)" in text
    assert "16 nov 2026 – 22 nov 2026" in text
    assert "## Vragen die nog wachten" in text


def test_mention_text_cannot_inject_markup(digest: DigestDocument) -> None:
    hostile = digest.model_copy(deep=True)
    hostile.engaged[0].text = '<script>alert("x")</script> [click](javascript:evil)'
    hostile.engaged[0].url = "javascript:alert(1)"
    html = to_html(hostile, "en", images={})
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html
    markdown = to_markdown(hostile, "en")
    assert "\\<script\\>" in markdown and "\\[click\\]" in markdown
    assert "<javascript:" not in markdown


def test_charts_are_png_images_the_html_page_embeds(digest: DigestDocument) -> None:
    charts = digest_charts(digest, "en")
    assert set(charts) == {"volume", "sentiment", "topics"}
    assert all(png.startswith(PNG) for png in charts.values())
    page = render(digest, "html", "en")
    sources = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(sources) == 3
    assert base64.b64decode(sources[0]).startswith(PNG)


def test_the_json_form_holds_every_section(digest: DigestDocument) -> None:
    data = json.loads(render(digest, "json", "en"))
    assert {
        "period",
        "volume",
        "sentiment",
        "topics",
        "emergent_terms",
        "authors",
        "engaged",
        "questions",
        "response",
        "throughput",
        "alerts",
        "notes",
    } <= set(data)


async def test_a_quiet_week_renders_a_short_digest_without_charts(
    sessions: async_sessionmaker[AsyncSession], history: History
) -> None:
    async with sessions() as session:
        quiet = await build_digest(session, period=Period.week("2026-W30", TZ))
    assert digest_charts(quiet, "en") == {}
    text = to_markdown(quiet, "en")
    assert "Nothing was heard in this period." in text
    assert "## Volume" not in text
    assert "<img" not in render(quiet, "html", "nl")

"""The digest screen shows the share-of-voice section: its table and its chart from this site."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import service
from listener.digest.periods import Period
from listener.models import Role
from listener.settings import Settings
from tests.desk.conftest import SignIn
from tests.digest.data import TZ
from tests.digest.voice_data import store_voice_history


async def _stored_week(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, subjects: bool
) -> int:
    async with sessions() as session, session.begin():
        await store_voice_history(session, subjects=subjects)
        digest = await service.store_digest(
            session, period=Period.week("2026-W47", TZ), settings=settings, language="en"
        )
        return digest.id


async def test_the_stored_week_shows_share_of_voice_in_english_and_dutch(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    digest_id = await _stored_week(sessions, settings, subjects=True)
    reader = await desk_sign_in(Role.ANALYST)
    english = await reader.client.get("/digest?week=2026-W47&lang=en")
    assert english.status_code == 200
    section = english.text[english.text.index('id="d-voice"') : english.text.index('id="d-topics"')]
    assert ">Share of voice</h3>" in section
    assert f'src="/digest/{digest_id}/charts/voice.png?lang=en"' in section
    # Fietsbaan: 4 mentions, half of the 8, twice last week's 2; reach 1,200 (tests/digest).
    assert (
        '<th scope="row">Fietsbaan <span class="muted">our brand</span></th>'
        '<td class="num">4</td><td class="num">50%</td><td class="num">+100%</td>'
    ) in section
    assert '<td class="num">1,200</td>' in section
    assert "Share of voice: Fietsbaan 50% (+0.0 pt)" in english.text  # at a glance
    dutch = await reader.client.get("/digest?week=2026-W47&lang=nl")
    assert ">Aandeel in het gesprek</h3>" in dutch.text
    assert '<span class="muted">ons merk</span>' in dutch.text
    chart = await reader.client.get(f"/digest/{digest_id}/charts/voice.png?lang=nl")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")


async def test_no_section_and_no_chart_without_subjects(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    digest_id = await _stored_week(sessions, settings, subjects=False)
    reader = await desk_sign_in(Role.ANALYST)
    page = await reader.client.get("/digest?week=2026-W47&lang=en")
    assert page.status_code == 200 and "Listening digest 2026-W47" in page.text
    assert 'id="d-voice"' not in page.text and "Share of voice" not in page.text
    chart = await reader.client.get(f"/digest/{digest_id}/charts/voice.png")
    assert chart.status_code == 404

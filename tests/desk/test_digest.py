"""The digest screen: a week's digest in English or Dutch, its charts from this site, builds."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import service
from listener.digest.periods import Period
from listener.models import AuditEntry, Digest, Role
from listener.settings import Settings
from tests.desk.conftest import SignIn
from tests.digest.data import TZ, store_history

XSS = '<script>alert("x")</script>'


async def _stored_week(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, week: str = "2026-W47"
) -> int:
    async with sessions() as session, session.begin():
        await store_history(session)
        digest = await service.store_digest(
            session, period=Period.week(week, TZ), settings=settings, language="en"
        )
        return digest.id


async def _digests(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count(Digest.id)))).scalar_one()


async def test_a_stored_week_in_english_and_in_dutch_with_its_charts(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    digest_id = await _stored_week(sessions, settings)
    reader = await desk_sign_in(Role.ANALYST)
    english = await reader.client.get("/digest?week=2026-W47&lang=en")
    assert english.status_code == 200
    assert "Listening digest 2026-W47" in english.text
    assert "At a glance" in english.text
    assert f'src="/digest/{digest_id}/charts/volume.png?lang=en"' in english.text
    dutch = await reader.client.get("/digest?week=2026-W47&lang=nl")
    assert "Luisterdigest 2026-W47" in dutch.text and "In het kort" in dutch.text
    assert '<article class="digest" lang="nl"' in dutch.text
    assert "Weekly digest" in dutch.text  # the desk itself stays in the reader's language
    for page in (english, dutch):
        assert " style=" not in page.text and "<style" not in page.text
        assert len(re.findall(r"<script", page.text)) == 2  # htmx and desk.js, nothing inline
        assert not re.search(r'src="(?!/|data:)', page.text)  # nothing from another site
    chart = await reader.client.get(f"/digest/{digest_id}/charts/volume.png?lang=nl")
    assert chart.status_code == 200
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(b"\x89PNG")
    assert (await reader.client.get(f"/digest/{digest_id}/charts/nope.png")).status_code == 404
    assert (await reader.client.get("/digest/99999/charts/volume.png")).status_code == 404


async def test_a_week_without_a_stored_digest_is_built_as_a_preview_and_not_stored(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    async with sessions() as session, session.begin():
        await store_history(session)
    reader = await desk_sign_in(Role.MODERATOR)
    page = await reader.client.get("/digest?week=2026-W47&lang=en")
    assert "No digest is stored for 2026-W47 yet" in page.text
    assert 'hx-get="/digest/preview?week=2026-W47&amp;lang=en" hx-trigger="load"' in page.text
    assert "Building the digest for 2026-W47" in page.text
    assert "Build and store" not in page.text  # a moderator cannot store one
    preview = await reader.client.get(
        "/digest/preview?week=2026-W47&lang=nl", headers={"HX-Request": "true"}
    )
    assert preview.status_code == 200
    assert "<html" not in preview.text
    assert "Luisterdigest 2026-W47" in preview.text
    assert 'src="data:image/png;base64,' in preview.text
    assert await _digests(sessions) == 0
    whole = await reader.client.get("/digest/preview?week=2026-W47&lang=en")
    assert "A preview of 2026-W47" in whole.text and "<html" in whole.text


async def test_a_bad_week_is_named_and_the_last_complete_week_shown(
    desk_sign_in: SignIn,
) -> None:
    reader = await desk_sign_in(Role.ANALYST)
    page = await reader.client.get("/digest?week=2026-W99&lang=en")
    assert page.status_code == 200
    assert "Week 2026-W99 is not usable" in page.text
    assert 'aria-invalid="true"' in page.text
    for far in ("9999-W52", "0001-W01"):
        answer = await reader.client.get(f"/digest?week={far}")
        assert answer.status_code == 200 and "is not usable" in answer.text
    preview = await reader.client.get(
        "/digest/preview?week=someday", headers={"HX-Request": "true"}
    )
    assert preview.status_code == 422
    assert "someday" in preview.text


async def test_only_an_admin_builds_and_stores_and_it_is_audited(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        await store_history(session)
    analyst = await desk_sign_in(Role.ANALYST)
    refused = await analyst.client.post(
        "/digest/build", data={"csrf_token": analyst.csrf, "week": "2026-W47", "lang": "en"}
    )
    assert refused.status_code == 403
    assert await _digests(sessions) == 0
    admin = await desk_sign_in(Role.ADMIN, username="olga")
    page = await admin.client.get("/digest?week=2026-W47&lang=nl")
    assert "Build and store" in page.text
    built = await admin.client.post(
        "/digest/build", data={"csrf_token": admin.csrf, "week": "2026-W47", "lang": "nl"}
    )
    assert built.status_code == 303
    shown = await admin.client.get(built.headers["location"])
    assert "Stored digest, built" in shown.text and "Luisterdigest 2026-W47" in shown.text
    assert "Build again" in shown.text
    async with sessions() as session:
        digest = (await session.execute(select(Digest))).scalar_one()
        assert digest.language == "nl" and digest.period_label == "2026-W47"
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.entity == "digest"))
        ).scalar_one()
        assert entry.actor == "olga (desk)"
    htmx = await admin.client.post(
        "/digest/build", headers=admin.headers, data={"week": "2026-W47", "lang": "nl"}
    )
    assert htmx.headers["HX-Redirect"].startswith("/digest?week=2026-W47&lang=nl")
    assert await _digests(sessions) == 1  # building again refreshes the same digest


async def test_text_from_the_community_stays_text(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    digest_id = await _stored_week(sessions, settings)
    async with sessions() as session, session.begin():
        digest = await session.get(Digest, digest_id)
        assert digest is not None
        data = dict(digest.data)
        volume = dict(data["volume"])
        volume["by_source"] = [dict(volume["by_source"][0], source=XSS)]
        data["volume"] = volume
        digest.data = data
    reader = await desk_sign_in(Role.ANALYST)
    page = await reader.client.get("/digest?week=2026-W47")
    assert "&lt;script&gt;alert(" in page.text
    assert "<script>alert" not in page.text

"""The sources screen: health for everyone; adding, testing, pausing and credentials for admins."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.registry import get_connector
from listener.models import Role, Source
from listener.settings import Settings
from listener.sources import service
from listener.sources.credentials import open_config
from tests.connectors.servers import LoopbackServer, Reply
from tests.desk.conftest import SignIn

RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>News</title>'
    "<link>https://news.example/</link><item><title>Dock 12 is empty</title>"
    "<link>https://news.example/1</link><guid>https://news.example/1</guid>"
    "<description>About the dock</description></item></channel></rss>"
)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def feed_server() -> Iterator[LoopbackServer]:
    with LoopbackServer("127.0.0.1") as server:
        yield server


async def _source(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    name: str,
    kind: str = "rss",
    config: dict[str, object] | None = None,
    **fields: object,
) -> int:
    async with sessions() as session, session.begin():
        source = await service.create_source(
            session,
            kind=kind,
            name=name,
            config=config or {"url": "http://127.0.0.1:9/feed.xml"},
            key=settings.secret_bytes(),
        )
        for key, value in fields.items():
            setattr(source, key, value)
        return source.id


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count(Source.id)))).scalar_one()


def _field_error(html: str, field_id: str) -> str:
    found = re.search(
        rf'<span id="{re.escape(field_id)}-error" class="field-error">([^<]*)</span>', html
    )
    assert found, f"no error next to {field_id}"
    return found.group(1)


async def test_everyone_sees_health_but_only_an_admin_gets_write_controls(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    healthy = await _source(sessions, settings, name="press-feed")
    await _source(
        sessions,
        settings,
        name="broken-feed",
        consecutive_failures=3,
        last_error="HTTP 503 from 127.0.0.1",
    )
    await _source(sessions, settings, name="quiet-feed", enabled=False, paused_reason="holiday")
    for role in (Role.ANALYST, Role.MODERATOR):
        reader = await desk_sign_in(role)
        page = await reader.client.get("/sources")
        assert page.status_code == 200
        assert "press-feed" in page.text and "broken-feed" in page.text
        assert "HTTP 503 from 127.0.0.1" in page.text
        assert "holiday" in page.text
        assert 'action="/sources"' not in page.text  # no add form
        detail = await reader.client.get(f"/sources/{healthy}")
        assert detail.status_code == 200
        assert "/pause" not in detail.text and "/test" not in detail.text
        # A forged write is refused however it is dressed.
        for path in ("/sources", f"/sources/{healthy}/pause", f"/sources/{healthy}/settings"):
            forged = await reader.client.post(
                path,
                data={"csrf_token": reader.csrf, "name": "x", "kind": "rss", "reason": "x"},
            )
            assert forged.status_code == 403, path
    async with sessions() as session:
        source = await session.get(Source, healthy)
        assert source is not None and source.enabled
    assert await _count(sessions) == 3


async def test_a_bad_field_is_shown_next_to_it_and_nothing_is_stored(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await desk_sign_in(Role.ADMIN)
    page = await admin.client.get("/sources")
    assert '<label for="cfg-url"><code>url</code>' in page.text
    bad_url = await admin.client.post(
        "/sources",
        data={"csrf_token": admin.csrf, "kind": "rss", "name": "press", "config.url": "not a url"},
    )
    assert bad_url.status_code == 422
    assert "valid URL" in _field_error(bad_url.text, "cfg-url")
    assert 'value="press"' in bad_url.text  # what was typed stays
    bad_name = await admin.client.post(
        "/sources",
        data={
            "csrf_token": admin.csrf,
            "kind": "rss",
            "name": "has spaces",
            "poll_interval_seconds": "5",
            "config.url": "http://127.0.0.1:9/feed.xml",
            "keep": "sentiment:negative",
        },
    )
    assert bad_name.status_code == 422
    assert _field_error(bad_name.text, "add-name")
    assert "30" in _field_error(bad_name.text, "add-interval")
    assert "sentiment" in _field_error(bad_name.text, "cfg-keep")
    # Through htmx the form alone comes back, still with the error by its field.
    fragment = await admin.client.post(
        "/sources",
        headers=admin.headers,
        data={"kind": "mastodon", "name": "toots", "config.any_tags": "a, b"},
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "required" in _field_error(fragment.text, "cfg-instance_url").lower()
    assert await _count(sessions) == 0


async def test_an_admin_adds_a_source_and_a_duplicate_name_is_refused(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await desk_sign_in(Role.ADMIN)
    form = {
        "csrf_token": admin.csrf,
        "kind": "mastodon",
        "name": "toots",
        "config.instance_url": "http://127.0.0.1:9",
        "config.hashtag": "fiets",
        "config.any_tags": "bike, velo",
        "config.access_token": "s3cret-token-value",
        "poll_interval_seconds": "600.0",
    }
    added = await admin.client.post("/sources", data=form)
    assert added.status_code == 303
    detail = await admin.client.get(added.headers["location"])
    assert "Source added" in detail.text
    assert "s3cret-token-value" not in detail.text
    assert "Set (hidden)" in detail.text
    assert "bike, velo" in detail.text
    async with sessions() as session:
        source = (await session.execute(select(Source))).scalar_one()
        assert source.poll_interval_seconds == 600
        assert source.config["any_tags"] == ["bike", "velo"]
        assert "$enc" in source.config["access_token"]
    again = await admin.client.post("/sources", data=form)
    assert again.status_code == 422
    assert "exists already" in _field_error(again.text, "add-name")
    assert "s3cret-token-value" not in again.text  # a secret is never echoed back
    assert await _count(sessions) == 1


async def test_pause_with_a_reason_then_resume(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    source_id = await _source(sessions, settings, name="press", consecutive_failures=2)
    admin = await desk_sign_in(Role.ADMIN, username="olga")
    paused = await admin.client.post(
        f"/sources/{source_id}/pause", data={"csrf_token": admin.csrf, "reason": "maintenance"}
    )
    assert paused.status_code == 303
    page = await admin.client.get(paused.headers["location"])
    assert "Source paused" in page.text and "maintenance" in page.text
    assert "Resume" in page.text
    async with sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None and not source.enabled
        assert source.paused_reason == "maintenance"
    resumed = await admin.client.post(
        f"/sources/{source_id}/resume", data={"csrf_token": admin.csrf}
    )
    assert resumed.status_code == 303
    async with sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None and source.enabled and source.paused_reason is None
        assert source.consecutive_failures == 0
    no_csrf = await admin.client.post(f"/sources/{source_id}/pause", data={"reason": "x"})
    assert no_csrf.status_code == 403
    missing = await admin.client.post("/sources/99999/resume", data={"csrf_token": admin.csrf})
    assert missing.status_code == 404
    assert (await admin.client.get("/sources/99999")).status_code == 404
    assert (await admin.client.get("/sources/99999999999999999999")).status_code == 422


async def test_credentials_are_set_masked_and_lift_an_automatic_pause(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    source_id = await _source(
        sessions,
        settings,
        name="toots",
        kind="mastodon",
        config={"instance_url": "http://127.0.0.1:9", "hashtag": "fiets", "any_tags": ["velo"]},
        paused_reason="5 failed polls in a row: HTTP 401",
    )
    admin = await desk_sign_in(Role.ADMIN)
    before = await admin.client.get(f"/sources/{source_id}")
    assert "Not set" in before.text
    assert 'name="config.hashtag" value="fiets"' in before.text  # the form shows what is stored
    form = {
        "csrf_token": admin.csrf,
        "config.instance_url": "http://127.0.0.1:9",
        "config.hashtag": "fiets",
        "config.any_tags": "velo",
        "config.page_size": "40",
        "config.max_pages": "5",
        "config.visibility": "public",
    }
    bad = await admin.client.post(
        f"/sources/{source_id}/settings",
        data=form | {"config.page_size": "many", "config.access_token": "brand-new-token"},
    )
    assert bad.status_code == 422
    assert "integer" in _field_error(bad.text, "edit-page_size")
    assert "brand-new-token" not in bad.text  # a secret is never echoed back
    saved = await admin.client.post(
        f"/sources/{source_id}/settings", data=form | {"config.access_token": "brand-new-token"}
    )
    assert saved.status_code == 303
    after = await admin.client.get(saved.headers["location"])
    assert "Settings saved" in after.text
    assert "Set (hidden)" in after.text
    assert "brand-new-token" not in after.text
    async with sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None
        assert "$enc" in source.config["access_token"]
        assert "brand-new-token" not in str(source.config)
        assert source.paused_reason is None  # staff fixed it: polling starts again
    # Saving again with the credential left empty keeps the stored one.
    key = settings.secret_bytes()
    again = await admin.client.post(
        f"/sources/{source_id}/settings", data=form | {"config.hashtag": "bike"}
    )
    assert again.status_code == 303
    async with sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None
        assert source.config["hashtag"] == "bike"
        opened = open_config(get_connector("mastodon").config_model, source.config, key=key)
        assert opened.access_token.get_secret_value() == "brand-new-token"  # type: ignore[attr-defined]
    analyst = await desk_sign_in(Role.ANALYST)
    seen = await analyst.client.get(f"/sources/{source_id}")
    assert "Set (hidden)" in seen.text
    assert 'name="config.access_token"' not in seen.text


async def test_an_imported_source_without_settings_can_be_completed(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    source_id = await _source(sessions, settings, name="press")
    async with sessions() as session, session.begin():
        source = await session.get(Source, source_id)
        assert source is not None
        source.config = {}  # what an import stores
    admin = await desk_sign_in(Role.ADMIN)
    page = await admin.client.get(f"/sources/{source_id}")
    assert "The stored settings cannot be used: url: Field required" in page.text
    fixed = await admin.client.post(
        f"/sources/{source_id}/settings",
        data={"csrf_token": admin.csrf, "config.url": "http://127.0.0.1:9/feed.xml"},
    )
    assert fixed.status_code == 303
    page = await admin.client.get(f"/sources/{source_id}")
    assert "cannot be used" not in page.text


async def test_testing_a_source_fetches_once_and_stores_nothing(
    desk_sign_in: SignIn,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    feed_server: LoopbackServer,
) -> None:
    feed_server.route("/feed.xml", Reply.text(RSS, content_type="application/rss+xml"))
    good = await _source(
        sessions, settings, name="news", config={"url": feed_server.url("/feed.xml")}
    )
    gone = await _source(
        sessions, settings, name="gone", config={"url": feed_server.url("/gone.xml")}
    )
    admin = await desk_sign_in(Role.ADMIN)
    answer = await admin.client.post(f"/sources/{good}/test", headers=admin.headers)
    assert answer.status_code == 200
    assert "1 items, 0 rejected" in answer.text
    assert "Dock 12 is empty" in answer.text
    failed = await admin.client.post(f"/sources/{gone}/test", data={"csrf_token": admin.csrf})
    assert failed.status_code == 200
    assert "The test failed" in failed.text and "404" in failed.text
    # The add form tests its settings before anything is saved.
    unsaved = {"kind": "rss", "name": "later", "config.url": feed_server.url("/feed.xml")}
    first = await admin.client.post("/sources/test", headers=admin.headers, data=unsaved)
    assert "1 items, 0 rejected" in first.text
    wrong = await admin.client.post(
        "/sources/test", data={"csrf_token": admin.csrf, "kind": "rss", "config.url": "nope"}
    )
    assert wrong.status_code == 200
    assert "incomplete or wrong (url)" in wrong.text
    assert 'value="nope"' in wrong.text  # the form comes back as typed
    # What a feed says is shown as text, however it is dressed.
    evil = RSS.replace("Dock 12 is empty", f"<![CDATA[{XSS}]]>").replace("About the dock", "")
    feed_server.route("/evil.xml", Reply.text(evil, content_type="application/rss+xml"))
    shown = await admin.client.post(
        "/sources/test",
        headers=admin.headers,
        data={"kind": "rss", "config.url": feed_server.url("/evil.xml")},
    )
    assert "1 items" in shown.text
    assert "<script>alert" not in shown.text and "<img src=x" not in shown.text
    async with sessions() as session:
        polled = (await session.execute(select(func.sum(Source.total_polls)))).scalar_one()
    assert not polled
    assert await _count(sessions) == 2


async def test_a_script_in_a_source_name_or_error_stays_text(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    source_id = await _source(
        sessions, settings, name="evil", last_error=XSS, consecutive_failures=1, paused_reason=XSS
    )
    async with sessions() as session, session.begin():
        source = await session.get(Source, source_id)
        assert source is not None
        source.name = XSS  # an import names its source after the file; anything goes
    reader = await desk_sign_in(Role.ANALYST)
    for path in ("/sources", f"/sources/{source_id}"):
        page = await reader.client.get(path)
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
        assert "&lt;script&gt;alert(" in page.text


async def test_every_source_text_exists_in_both_languages(desk_sign_in: SignIn) -> None:
    analyst = await desk_sign_in(Role.ANALYST)
    dutch = await analyst.client.get("/sources", headers={"Accept-Language": "nl"})
    assert "<h1>Bronnen</h1>" in dutch.text
    assert "sources." not in re.sub(r'(href|hx-get|action)="[^"]*"', "", dutch.text)


async def test_connector_hints_are_in_the_readers_language(desk_sign_in: SignIn) -> None:
    admin = await desk_sign_in(Role.ADMIN)
    dutch = await admin.client.get(
        "/sources/new", params={"kind": "mastodon"}, headers={"Accept-Language": "nl"}
    )
    english = await admin.client.get(
        "/sources/new", params={"kind": "mastodon"}, headers={"Accept-Language": "en"}
    )
    assert dutch.status_code == english.status_code == 200
    assert "Te volgen tagtijdlijn, zonder #" in dutch.text
    assert "Tag timeline to follow, without #" not in dutch.text
    assert "Tag timeline to follow, without #" in english.text


def test_every_described_connector_setting_has_a_dutch_hint() -> None:
    from api.desk.i18n import catalogue
    from connectors.registry import CONNECTORS

    texts = catalogue()
    for kind in CONNECTORS:
        for name, info in get_connector(kind).config_model.model_fields.items():
            if not info.description:
                continue
            key = f"sources.hint.{kind}.{name}"
            assert texts["en"].get(key) == info.description, key
            assert texts["nl"].get(key) and texts["nl"][key] != info.description, key

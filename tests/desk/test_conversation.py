"""The conversation screen: the thread, the author, notes, tags, corrections, claims, presence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import IntegrationEvent, Mention, Role
from listener.models.privacy import ERASED_PREFIX
from listener.settings import Settings
from tests.conftest import MakeStaff
from tests.connectors.fake_platforms import FakeMastodon
from tests.desk.conftest import SignIn, sign_in_at_desk
from tests.desk.conversation_setup import (
    assert_inert,
    hear,
    loopback_mastodon,
    poison,
    version_of,
)


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with loopback_mastodon() as fake:
        yield fake


async def test_the_thread_shows_the_mention_highlighted_between_its_parent_and_replies(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    parent = await hear(sessions, settings, mastodon, "Is the new app out yet?", acct="kees")
    this = await hear(
        sessions,
        settings,
        mastodon,
        "Yes and my rides get lost",
        source_id=parent.source_id,
        in_reply_to_id=parent.status["id"],
    )
    await hear(
        sessions,
        settings,
        mastodon,
        "Same here, lost three rides",
        acct="joop",
        source_id=parent.source_id,
        in_reply_to_id=this.status["id"],
    )
    desk = await desk_sign_in(Role.MODERATOR)

    page = await desk.client.get(f"/mentions/{this.mention_id}")

    assert page.status_code == 200
    html = page.text
    highlighted = html.split('class="post highlight"')[1].split("</article>")[0]
    assert "Yes and my rides get lost" in highlighted
    assert "Is the new app out yet?" not in highlighted
    assert html.index("Is the new app out yet?") < html.index("Yes and my rides get lost")
    assert html.index("Yes and my rides get lost") < html.index("Same here, lost three rides")
    assert "This mention replies to:" in html and "Replies to this mention:" in html
    assert "Conversation with Anna" in html  # the author's display name
    missing = await desk.client.get("/mentions/999999")
    assert missing.status_code == 404


async def test_the_page_speaks_dutch_to_a_dutch_browser(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    page = await desk.client.get(
        f"/mentions/{heard.mention_id}", headers={"Accept-Language": "nl-NL,nl;q=0.9"}
    )
    assert "Gesprek met Anna" in page.text
    assert "Interne notities" in page.text and "Je antwoord" in page.text


async def test_the_author_panel_shows_history_and_links_a_suggested_identity(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    first = await hear(sessions, settings, mastodon, "Earlier: the map is wrong")
    now = await hear(sessions, settings, mastodon, "Now: rides lost", source_id=first.source_id)
    # The same person on another instance (another platform record with the same name).
    elsewhere = await hear(
        sessions,
        settings,
        mastodon,
        "Hello from my other account",
        acct="annavdb@other.example",
        display_name="Anna",
        source_id=first.source_id,
    )
    async with sessions() as session, session.begin():
        other = await session.get(Mention, elsewhere.mention_id)
        assert other is not None
        from listener.models import Author

        author = await session.get(Author, other.author_id)
        assert author is not None
        author.platform = "bluesky"
        author.handle = "anna.bsky.social"
        other_author_id = author.id
    desk = await desk_sign_in(Role.MODERATOR)

    page = await desk.client.get(f"/mentions/{now.mention_id}")
    assert "Earlier: the map is wrong" in page.text
    assert "Maybe the same person" in page.text and "anna.bsky.social" in page.text

    linked = await desk.client.post(
        f"/conversation/{now.mention_id}/link",
        data={"other_id": str(other_author_id)},
        headers=desk.headers,
    )
    assert linked.status_code == 200
    assert "Linked as the same person." in linked.text
    assert "Hello from my other account" in linked.text  # its history now counts
    assert "Maybe the same person" not in linked.text


async def test_a_note_calls_a_colleague_in_and_shows_their_name_highlighted(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    from tests.moderation.outbox_helpers import staff

    await staff(sessions, "bram")
    version = await version_of(sessions, heard.mention_id)

    added = await desk.client.post(
        f"/conversation/{heard.mention_id}/notes",
        data={"version": str(version), "body": "@bram can you check the ride logs? @nobody"},
        headers=desk.headers,
    )

    assert added.status_code == 200
    assert '<mark class="at">@bram</mark> can you check the ride logs? @nobody' in added.text
    # The state comes along out of band, at the new version.
    assert 'hx-swap-oob="true"' in added.text
    assert f'value="{version + 1}"' in added.text
    page = await desk.client.get(f"/mentions/{heard.mention_id}")
    assert '<mark class="at">@bram</mark>' in page.text


async def test_tags_are_added_and_removed(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    url = f"/conversation/{heard.mention_id}/tags"
    version = await version_of(sessions, heard.mention_id)

    added = await desk.client.post(
        url, data={"version": str(version), "add": "Rides, app update"}, headers=desk.headers
    )
    assert '<span class="chip">rides</span>' in added.text
    assert '<span class="chip">app update</span>' in added.text

    removed = await desk.client.post(
        url, data={"version": str(version + 1), "remove": "rides"}, headers=desk.headers
    )
    assert '<span class="chip">rides</span>' not in removed.text
    assert '<span class="chip">app update</span>' in removed.text

    bad = await desk.client.post(
        url, data={"version": str(version + 2), "add": "!!"}, headers=desk.headers
    )
    assert bad.status_code < 500
    assert "is not a tag" in bad.text


async def test_sentiment_and_intents_are_corrected_through_the_nlp_service(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    url = f"/conversation/{heard.mention_id}/corrections"

    fixed = await desk.client.post(
        url, data={"field": "sentiment", "label": "negative"}, headers=desk.headers
    )
    assert fixed.status_code == 200
    assert '<span class="chip chip-negative">negative</span>' in fixed.text
    assert "Correction saved" in fixed.text

    intents = await desk.client.post(
        url,
        data={"field": "intents", "intents": ["", "complaint", "question"]},
        headers=desk.headers,
    )
    assert '<span class="chip chip-complaint">complaint</span>' in intents.text
    async with sessions() as session:
        mention = await session.get(Mention, heard.mention_id)
        assert mention is not None
        assert mention.sentiment_label == "negative"
        assert sorted(mention.intents) == ["complaint", "question"]
    api = await desk.client.get(f"/api/v1/mentions/{heard.mention_id}/corrections")
    assert api.status_code in (200, 401)  # the API wants a token; the row is what matters
    unknown = await desk.client.post(
        url, data={"field": "topics", "topics": ["no-such-topic"]}, headers=desk.headers
    )
    assert unknown.status_code < 500 and "unknown topics" in unknown.text


async def test_someone_elses_claim_and_a_stale_version_answer_with_a_clear_message(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    client: httpx.AsyncClient,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    version = await version_of(sessions, heard.mention_id)
    anna = await desk_sign_in(Role.MODERATOR, username="anna")
    claimed = await anna.client.post(
        f"/conversation/{heard.mention_id}/claim", headers=anna.headers
    )
    assert "You hold the claim" in claimed.text

    bram = await desk_sign_in(Role.MODERATOR, username="bram")
    page = await bram.client.get(f"/mentions/{heard.mention_id}")
    assert "Claimed by anna until" in page.text
    refused = await bram.client.post(
        f"/conversation/{heard.mention_id}/resolve",
        data={"version": str(version)},
        headers=bram.headers,
    )
    assert refused.status_code == 200  # a toast, and the state as it is now
    assert refused.headers["HX-Retarget"] == "#toasts"
    assert "anna is working on this" in refused.text
    assert await version_of(sessions, heard.mention_id) == version

    csrf = await sign_in_at_desk(client, anna.staff)  # anna again, her claim still stands
    headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    stale = await client.post(
        f"/conversation/{heard.mention_id}/snooze",
        data={"version": str(version + 5), "hours": "4"},
        headers=headers,
    )
    assert "changed this mention meanwhile" in stale.text
    assert f'id="item-version" name="version" value="{version}"' in stale.text  # fresh state
    resolved = await client.post(
        f"/conversation/{heard.mention_id}/resolve",
        data={"version": str(version)},
        headers=headers,
    )
    assert "Marked resolved." in resolved.text
    assert "chip-resolved" in resolved.text


async def test_presence_shows_who_else_is_viewing_and_records_one_event_per_arrival(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    url = f"/conversation/{heard.mention_id}/presence"
    anna = await desk_sign_in(Role.MODERATOR, username="anna")
    first = await anna.client.post(url, headers=anna.headers)
    assert "Nobody else is viewing this." in first.text
    await anna.client.post(url, headers=anna.headers)  # a renewal: no new event

    bram = await desk_sign_in(Role.MODERATOR, username="bram")
    seen = await bram.client.post(url, headers=bram.headers)
    assert "anna is viewing" in seen.text
    async with sessions() as session:
        events = (
            await session.execute(
                select(IntegrationEvent.payload).where(IntegrationEvent.type == "mention.presence")
            )
        ).scalars()
        arrivals = [e["user_id"] for e in events]
    assert len(arrivals) == 2 and arrivals[0] != arrivals[1]

    left = await bram.client.post(
        f"/conversation/{heard.mention_id}/leave", data={"csrf_token": bram.csrf}
    )
    assert left.status_code == 204


async def test_an_analyst_sees_no_write_controls_and_a_forged_write_is_refused(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    version = await version_of(sessions, heard.mention_id)
    petra = await desk_sign_in(Role.ANALYST)
    page = await petra.client.get(f"/mentions/{heard.mention_id}")
    assert page.status_code == 200
    for control in (
        "/claim",
        "/resolve",
        "/notes",
        "/tags",
        "/corrections",
        'id="reply-form"',
        "/appreciate",
        'data-key="c"',
    ):
        assert control not in page.text, control
    for path, data in (
        ("claim", {}),
        ("resolve", {"version": str(version)}),
        ("notes", {"version": str(version), "body": "sneaky"}),
        ("tags", {"version": str(version), "add": "sneaky"}),
        ("corrections", {"field": "sentiment", "label": "positive"}),
    ):
        forged = await petra.client.post(
            f"/conversation/{heard.mention_id}/{path}", data=data, headers=petra.headers
        )
        assert forged.status_code == 403, path
    assert await version_of(sessions, heard.mention_id) == version


async def test_script_payloads_in_a_mention_its_author_and_a_note_stay_inert(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    await poison(sessions, heard.mention_id)
    desk = await desk_sign_in(Role.MODERATOR)
    version = await version_of(sessions, heard.mention_id)
    await desk.client.post(
        f"/conversation/{heard.mention_id}/notes",
        data={
            "version": str(version),
            "body": "<script>alert(1)</script> <img src=x onerror=alert(1)> javascript:alert(1)",
        },
        headers=desk.headers,
    )
    await desk.client.post(
        f"/conversation/{heard.mention_id}/tags",
        data={"version": str(version + 1), "add": "x<script>"},
        headers=desk.headers,
    )
    page = await desk.client.get(f"/mentions/{heard.mention_id}")
    assert page.status_code == 200
    assert_inert(page.text)
    assert "Eve &lt;script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_a_gone_or_erased_mention_says_so_instead_of_showing_an_empty_post(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    gone = await hear(sessions, settings, mastodon, "This post will be deleted")
    erased = await hear(sessions, settings, mastodon, "Erase me", source_id=gone.source_id)
    kept = await hear(sessions, settings, mastodon, "Still here", source_id=gone.source_id)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Mention)
            .where(Mention.id == gone.mention_id)
            .values(text="", deleted_at_source=datetime(2026, 11, 20, 8, 30, tzinfo=UTC))
        )
        await session.execute(
            update(Mention)
            .where(Mention.id == erased.mention_id)
            .values(text="", url=None, external_id=f"{ERASED_PREFIX}{erased.mention_id}")
        )
    desk = await desk_sign_in(Role.MODERATOR)

    pages = {
        heard.mention_id: await desk.client.get(f"/mentions/{heard.mention_id}")
        for heard in (gone, erased, kept)
    }
    assert "Deleted on the platform (noticed 2026-11-20 08:30 UTC)" in pages[gone.mention_id].text
    assert "Erased at its author&#39;s request" in pages[erased.mention_id].text
    assert "Deleted on the platform" not in pages[kept.mention_id].text
    assert "Erased at" not in pages[kept.mention_id].text
    staff = await make_staff(Role.ANALYST)
    details = {
        heard.mention_id: (
            await client.get(f"/api/v1/mentions/{heard.mention_id}", headers=staff.headers)
        ).json()
        for heard in (gone, erased, kept)
    }
    assert details[gone.mention_id]["deleted_at_source"].startswith("2026-11-20T08:30")
    assert [details[h.mention_id]["erased"] for h in (gone, erased, kept)] == [False, True, False]
    assert details[kept.mention_id]["deleted_at_source"] is None
    queue = await desk.client.get("/queue")
    assert "(erased at its author&#39;s request)" in queue.text and "Still here" in queue.text

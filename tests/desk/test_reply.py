"""Replying and appreciating from the conversation page, through the outbox, to a loopback
Mastodon-shaped platform."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import OutboxMessage, Role, utcnow
from listener.settings import Settings
from moderation.outbox import reply_templates
from moderation.outbox.sending import deliver
from tests.conftest import MakeStaff
from tests.connectors.fake_platforms import FakeMastodon
from tests.desk.conftest import SignIn, sign_in_at_desk
from tests.desk.conversation_setup import hear, loopback_mastodon
from tests.moderation.outbox_helpers import add_source, staff


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with loopback_mastodon() as fake:
        yield fake


@pytest.fixture
async def outbound(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as guarded:
        yield guarded


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.execute(select(OutboxMessage))).scalars())


async def test_a_template_fills_in_the_authors_display_name_and_the_counter_counts_graphemes(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon, display_name="Anna de Vries")
    author = await staff(sessions, "writer")
    async with sessions() as session, session.begin():
        template = await reply_templates.create_template(
            session,
            name="thanks",
            body="Hi {{author_name}}, thanks! ### what we fix ###",
            actor=author,
        )
    desk = await desk_sign_in(Role.MODERATOR)
    page = await desk.client.get(f"/mentions/{heard.mention_id}")
    assert f'<option value="{template.id}">thanks</option>' in page.text
    assert "0 / 500" in page.text  # Mastodon's limit

    box = await desk.client.get(
        f"/reply/{heard.mention_id}/template", params={"template": str(template.id)}
    )
    assert "Hi Anna de Vries, thanks!" in box.text
    assert "anna@mastodon.example" not in box.text

    family = "👨‍👩‍👧 é"  # one family emoji (five code points), a space, e + combining accent
    preview = await desk.client.post(
        f"/reply/{heard.mention_id}/preview",
        data={"body": f"Hi {{{{author_name}}}} {family}"},
        headers=desk.headers,
    )
    assert "{{author_name}}" in preview.text  # unfilled placeholders are named
    assert "Fill in first" in preview.text
    counted = re.search(r"(\d+) / 500", preview.text)
    assert counted and int(counted.group(1)) == len("Hi {{author_name}} ") + 3


async def test_send_opens_the_undo_window_and_undo_keeps_the_reply_from_leaving(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    outbound: httpx.AsyncClient,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)

    sent = await desk.client.post(
        f"/reply/{heard.mention_id}",
        data={"body": "Thanks Anna, a fix ships Monday."},
        headers=desk.headers,
    )

    assert sent.status_code == 200
    assert "Sending in 30 s" in sent.text  # the default undo window
    assert 'hx-post="/replies/' in sent.text and "/undo" in sent.text
    [row] = await rows(sessions)
    assert row.status == "scheduled"

    undone = await desk.client.post(f"/replies/{row.id}/undo", headers=desk.headers)
    assert "Undone: the reply did not go out." in undone.text
    assert "Draft" in undone.text
    async with sessions() as session, session.begin():  # the window would have closed by now
        await session.execute(
            update(OutboxMessage).values(scheduled_at=utcnow() - timedelta(minutes=1))
        )
    done = await deliver(sessions, outbox_id=row.id, settings=settings, client=outbound)
    assert done.status == "skipped"
    assert mastodon.posted("/api/v1/statuses") == []

    discarded = await desk.client.post(f"/replies/{row.id}/cancel", headers=desk.headers)
    assert "Reply discarded." in discarded.text
    assert "Thanks Anna, a fix" not in discarded.text.split("toasts")[0]


async def test_a_reply_that_left_shows_as_sent_with_its_link(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    outbound: httpx.AsyncClient,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    await desk.client.post(
        f"/reply/{heard.mention_id}", data={"body": "On its way"}, headers=desk.headers
    )
    [row] = await rows(sessions)
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage).values(scheduled_at=utcnow() - timedelta(seconds=1))
        )
    done = await deliver(sessions, outbox_id=row.id, settings=settings, client=outbound)
    assert done.status == "sent"

    fragment = await desk.client.get(f"/reply/{heard.mention_id}/outbox")
    assert "Sent" in fragment.text
    assert mastodon.ours()[0]["url"] in fragment.text
    page = await desk.client.get(f"/mentions/{heard.mention_id}")
    assert "Our reply" in page.text  # in the thread too


async def test_a_source_without_credentials_says_what_is_missing(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    bare = await add_source(
        sessions,
        settings,
        kind="mastodon",
        config={"instance_url": mastodon.server.base_url, "hashtag": "fietsbaan"},
        name="no-token",
    )
    heard = await hear(sessions, settings, mastodon, source_id=bare)
    desk = await desk_sign_in(Role.MODERATOR)

    refused = await desk.client.post(
        f"/reply/{heard.mention_id}", data={"body": "Hello"}, headers=desk.headers
    )

    assert 400 <= refused.status_code < 500
    assert refused.headers["HX-Retarget"] == "#toasts"
    # The outbox's own explanation, naming the source and what it lacks.
    assert "credentials" in refused.text and "no-token" in refused.text
    assert await rows(sessions) == []  # nothing half-made

    unknown = await desk.client.post(
        f"/reply/{heard.mention_id}",
        data={"body": "Hello", "template_id": "999999"},
        headers=desk.headers,
    )
    assert unknown.status_code == 404 and "template 999999 does not exist" in unknown.text
    assert await rows(sessions) == []


async def test_a_team_that_requires_approval_needs_a_second_person(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    make_staff: MakeStaff,
) -> None:
    from api.http.app import create_app

    strict = settings.model_copy(update={"outbox_require_approval": True})
    heard = await hear(sessions, strict, mastodon)
    writer = await make_staff(Role.MODERATOR, username="writer")
    checker = await make_staff(Role.MODERATOR, username="checker")
    app = create_app(strict, engine=engine)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://luister.test"
    ) as client:
        csrf = await sign_in_at_desk(client, writer)
        headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        drafted = await client.post(
            f"/reply/{heard.mention_id}", data={"body": "Checked text"}, headers=headers
        )
        assert "Waiting for a colleague&#39;s approval." in drafted.text
        assert "/approve" not in drafted.text  # not by the writer
        [row] = await rows(sessions)
        assert row.status == "draft"

        client.cookies.clear()
        csrf = await sign_in_at_desk(client, checker)
        headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        approved = await client.post(
            f"/replies/{row.id}/approve", data={"version": str(row.version)}, headers=headers
        )
        assert "Approved by checker." in approved.text
        sent = await client.post(
            f"/replies/{row.id}/send", data={"version": str(row.version + 1)}, headers=headers
        )
        assert "Sending in" in sent.text


async def test_like_and_take_it_back_through_the_platform(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    page = await desk.client.get(f"/mentions/{heard.mention_id}")
    assert 'data-key="a"' in page.text

    liked = await desk.client.post(
        f"/reply/{heard.mention_id}/appreciate", data={"action": "like"}, headers=desk.headers
    )
    assert "Liked on the platform." in liked.text
    assert ("favourite", heard.status["id"]) in mastodon.actions
    undo = re.search(r'hx-post="(/appreciations/\d+/undo)"', liked.text)
    assert undo

    again = await desk.client.post(
        f"/reply/{heard.mention_id}/appreciate", data={"action": "like"}, headers=desk.headers
    )
    assert again.status_code == 409 and "already has a standing like" in again.text

    taken = await desk.client.post(undo.group(1), headers=desk.headers)
    assert "Taken back on the platform." in taken.text
    assert ("unfavourite", heard.status["id"]) in mastodon.actions


async def test_an_analyst_cannot_reply_or_like(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    heard = await hear(sessions, settings, mastodon)
    petra = await desk_sign_in(Role.ANALYST)
    page = await petra.client.get(f"/mentions/{heard.mention_id}")
    assert 'id="reply-text"' not in page.text and 'data-key="a"' not in page.text
    forged = await petra.client.post(
        f"/reply/{heard.mention_id}", data={"body": "sneaky"}, headers=petra.headers
    )
    assert forged.status_code == 403
    liked = await petra.client.post(
        f"/reply/{heard.mention_id}/appreciate", data={"action": "like"}, headers=petra.headers
    )
    assert liked.status_code == 403
    assert await rows(sessions) == [] and mastodon.actions == []

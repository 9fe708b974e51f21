"""The incidents screen and the earlier answers fragment: listing, status for all, answering every
author once through the outbox (a loopback Mastodon-shaped platform), read-only analysts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit.http import make_client
from listener.models import (
    Incident,
    IncidentMember,
    Mention,
    OutboxMessage,
    QueueItem,
    Response,
    Role,
    User,
    utcnow,
)
from listener.settings import Settings
from moderation.incidents import service
from moderation.outbox.sending import deliver
from moderation.queue import claims
from tests.connectors.fake_platforms import FakeMastodon
from tests.desk.conftest import SignIn
from tests.desk.conversation_setup import SCRIPT, hear, loopback_mastodon
from tests.moderation.outbox_helpers import staff

OUTAGE = "Storing bij Fietsbaan: de app laadt niet en mijn rit is weg"
PEOPLE = ("kees", "anouk", "daan", "fleur")


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    with loopback_mastodon() as fake:
        yield fake


@pytest.fixture
async def outbound(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(settings) as guarded:
        yield guarded


@dataclass
class Outage:
    incident_id: int
    mention_ids: list[int]
    source_id: int


async def outage(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fake: FakeMastodon
) -> Outage:
    """Five mentions by four people on the fake platform, grouped into one open incident."""
    ids: list[int] = []
    source_id: int | None = None
    for n, person in enumerate((*PEOPLE, PEOPLE[0])):
        heard = await hear(
            sessions,
            settings,
            fake,
            f"{OUTAGE} ({n})",
            acct=f"{person}@mastodon.example",
            source_id=source_id,
            display_name=person.title(),
        )
        source_id = heard.source_id
        ids.append(heard.mention_id)
    assert source_id is not None
    async with sessions() as session, session.begin():
        now = utcnow()
        incident = Incident(
            title="storing · app · rit",
            terms=["storing", "app", "rit"],
            status="open",
            started_at=now,
            peak_at=now,
            ended_at=now,
        )
        session.add(incident)
        await session.flush()
        for mention_id in ids:
            session.add(
                IncidentMember(incident_id=incident.id, mention_id=mention_id, reason="term")
            )
        await session.flush()
        refreshed = await service.refresh(session, incident_id=incident.id)
        refreshed.title = "storing · app · rit"
        incident_id = incident.id
    return Outage(incident_id, ids, source_id)


async def test_the_list_and_an_incident_show_its_members_escaped_and_analysts_cannot_write(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    found = await outage(sessions, settings, mastodon)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Mention)
            .where(Mention.id == found.mention_ids[1])
            .values(text=f"{OUTAGE} {SCRIPT}")
        )
    desk = await desk_sign_in(Role.MODERATOR)

    listing = await desk.client.get("/incidents")
    assert listing.status_code == 200
    row = re.search(
        rf'<tr data-row="{found.incident_id}" data-href="[^"]+">(.*?)</tr>',
        listing.text,
        re.DOTALL,
    )
    assert row, listing.text
    assert "storing · app · rit" in row.group(1)
    cells = re.findall(r'<td class="num">(\d+)</td>', row.group(1))
    assert cells == ["5", "4"]  # mentions, authors
    assert "data-keylist" in listing.text
    closed = await desk.client.get("/incidents?status=closed")
    assert f'data-row="{found.incident_id}"' not in closed.text

    page = await desk.client.get(f"/incidents/{found.incident_id}")
    assert page.status_code == 200
    for mention_id in found.mention_ids:
        assert f'<a data-open href="/mentions/{mention_id}">' in page.text
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert 'hx-post="/incidents/' in page.text and "Answer everyone" in page.text
    assert (await desk.client.get("/incidents/999999")).status_code == 404

    analyst = await desk_sign_in(Role.ANALYST)
    read_only = await analyst.client.get(f"/incidents/{found.incident_id}")
    assert read_only.status_code == 200
    assert "storing · app · rit" in read_only.text
    assert "hx-post" not in read_only.text.split("<main")[1]
    assert "<textarea" not in read_only.text
    for action, data in (
        ("status", {"status": "resolved"}),
        ("reply", {"body": "Hi {{author_name}}"}),
        ("close", {}),
    ):
        forged = await analyst.client.post(
            f"/incidents/{found.incident_id}/{action}", data=data, headers=analyst.headers
        )
        assert forged.status_code == 403, action
    async with sessions() as session:
        assert (await session.get(Incident, found.incident_id)).status == "open"  # type: ignore[union-attr]
        statuses = set((await session.execute(select(QueueItem.status))).scalars())
        assert statuses == {"new"}
        assert (await session.execute(select(OutboxMessage))).first() is None


async def test_status_for_all_moves_open_members_and_lists_the_one_a_colleague_holds(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    found = await outage(sessions, settings, mastodon)
    colleague = await staff(sessions, "colleague")
    held = found.mention_ids[2]
    async with sessions() as session, session.begin():
        holder = await session.get(User, colleague.id)
        assert holder is not None
        await claims.claim_item(
            session, mention_id=held, actor=holder, actor_label="colleague", minutes=30
        )
    desk = await desk_sign_in(Role.MODERATOR)

    answer = await desk.client.post(
        f"/incidents/{found.incident_id}/status",
        data={"status": "resolved", "reason": "fixed at 13:40"},
        headers=desk.headers,
    )

    assert answer.status_code == 200, answer.text
    assert "4 members set to resolved." in answer.text
    skipped = re.search(r'<ul class="outcome-skipped">(.*?)</ul>', answer.text, re.DOTALL)
    assert skipped and "a colleague is working on it" in skipped.group(1)
    assert f"/mentions/{held}" in skipped.group(1)
    assert (
        'id="incident-members" class="panel"' in answer.text and 'hx-swap-oob="true"' in answer.text
    )
    async with sessions() as session:
        statuses = dict(
            (await session.execute(select(QueueItem.mention_id, QueueItem.status))).all()
        )
    assert statuses.pop(held) != "resolved"
    assert set(statuses.values()) == {"resolved"}

    bad = await desk.client.post(
        f"/incidents/{found.incident_id}/status", data={"status": "new"}, headers=desk.headers
    )
    assert bad.status_code == 422 and "Choose a status" in bad.text

    closed = await desk.client.post(f"/incidents/{found.incident_id}/close", headers=desk.headers)
    assert closed.status_code == 200 and "Reopen incident" in closed.text
    again = await desk.client.post(f"/incidents/{found.incident_id}/close", headers=desk.headers)
    assert again.status_code == 409 and "closed already" in again.text
    reopened = await desk.client.post(
        f"/incidents/{found.incident_id}/reopen", headers=desk.headers
    )
    assert "Close incident" in reopened.text


async def test_answer_everyone_sends_one_personal_reply_per_author_exactly_once(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    outbound: httpx.AsyncClient,
    desk_sign_in: SignIn,
) -> None:
    found = await outage(sessions, settings, mastodon)
    desk = await desk_sign_in(Role.MODERATOR)
    url = f"/incidents/{found.incident_id}"
    text = "Hoi {{author_name}}, sorry voor de storing. Je rit staat weer in de app."

    blocked = await desk.client.post(
        f"{url}/reply", data={"body": "Hi {{author_name}}, see {{link}}"}, headers=desk.headers
    )
    assert blocked.status_code == 409 and "{{link}}" in blocked.text

    preview = await desk.client.post(f"{url}/preview", data={"body": text}, headers=desk.headers)
    assert preview.status_code == 200
    assert "4 authors will get a reply; 0 were answered already" in preview.text
    for person in PEOPLE:
        assert f"Hoi {person.title()}, sorry voor de storing." in preview.text

    sent = await desk.client.post(f"{url}/reply", data={"body": text}, headers=desk.headers)
    assert sent.status_code == 200, sent.text
    assert "4 replies written." in sent.text
    assert "4 authors, 4 answered already" in sent.text  # the counts above the form, updated
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage).values(scheduled_at=utcnow() - timedelta(minutes=1))
        )
        rows = list((await session.execute(select(OutboxMessage))).scalars())
    assert len(rows) == 4
    for row in rows:
        done = await deliver(sessions, outbox_id=row.id, settings=settings, client=outbound)
        assert done.status == "sent", done.detail
    ours = mastodon.ours()
    assert len(ours) == 4
    greeted = sorted(re.search(r"Hoi (\w+),", s["content"]).group(1) for s in ours)  # type: ignore[union-attr]
    assert greeted == sorted(p.title() for p in PEOPLE)
    assert max(Counter(s["in_reply_to_id"] for s in ours).values()) == 1

    again = await desk.client.post(f"{url}/reply", data={"body": text}, headers=desk.headers)
    assert again.status_code == 200
    assert "0 replies written." in again.text
    assert again.text.count("already answered") == 4
    for row in rows:
        await deliver(sessions, outbox_id=row.id, settings=settings, client=outbound)
    assert len(mastodon.ours()) == 4
    async with sessions() as session:
        assert len(list((await session.execute(select(OutboxMessage))).scalars())) == 4
    page = await desk.client.get(url)
    assert "4 authors, 4 answered already" in page.text


async def test_the_earlier_answers_fragment_offers_what_we_answered_before(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    mastodon: FakeMastodon,
    desk_sign_in: SignIn,
) -> None:
    before = await hear(
        sessions,
        settings,
        mastodon,
        "Dubbel afgeschreven bij Fietsbaan, wanneer krijg ik mijn geld terug?",
        acct="chris@mastodon.example",
    )
    answer = "Sorry Chris! De dubbele afschrijving storten we binnen 3 werkdagen terug."
    async with sessions() as session, session.begin():
        earlier = await session.get(Mention, before.mention_id)
        assert earlier is not None
        earlier.created_at = utcnow() - timedelta(days=10)
        session.add(
            Response(
                mention_id=before.mention_id,
                kind="external",
                note=answer,
                url="https://fietsbaan.example/help/1",
                responded_at=utcnow() - timedelta(days=9),
                response_seconds=86400,
            )
        )
    now = await hear(
        sessions,
        settings,
        mastodon,
        "Ook dubbel afgeschreven bij Fietsbaan. Nog niks terug. Wie wel?",
        acct="sanne@mastodon.example",
        source_id=before.source_id,
    )
    desk = await desk_sign_in(Role.MODERATOR)

    fragment = await desk.client.get(f"/mentions/{now.mention_id}/earlier")

    assert fragment.status_code == 200
    assert answer in fragment.text
    assert f'href="/mentions/{before.mention_id}"' in fragment.text
    assert 'data-key="p"' in fragment.text and "Use this answer" in fragment.text
    used = re.search(r'data-use-answer="([^"]+)"', fragment.text)
    assert used and f'id="{used.group(1)}">{answer}</p>' in fragment.text
    nothing = await desk.client.get(f"/mentions/{before.mention_id}/earlier")
    assert answer not in nothing.text and "No earlier answered question" in nothing.text
    assert (await desk.client.get("/mentions/999999/earlier")).status_code == 404

    analyst = await desk_sign_in(Role.ANALYST)
    read = await analyst.client.get(f"/mentions/{now.mention_id}/earlier")
    assert answer in read.text and "data-use-answer" not in read.text

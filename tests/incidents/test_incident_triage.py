"""Issue 15 on the demo: answering the outage once, personally, per author, exactly once; and
one status for all its open members through the queue."""

from __future__ import annotations

import html
from collections import Counter

import pytest
from sqlalchemy import select

from listener.kit.http import make_client
from listener.models import AuditEntry, Author, Mention, OutboxMessage, QueueItem, Source, User
from listener.sources import service as sources
from moderation.incidents import service
from moderation.outbox import reply_templates as templates
from moderation.outbox.sending import deliver
from moderation.queue import claims
from tests.connectors.fake_platforms import FakeMastodon
from tests.connectors.servers import LoopbackServer
from tests.incidents.conftest import Demo

# One worker runs the module: its demo database is built once and the tests share it.
pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.xdist_group("test_incident_triage"),
]

EN = "Hi {{author_name}}, sorry for this morning's outage. Claim your OV costs at {{link}}"
NL = "Hoi {{author_name}}, sorry voor de storing. Je OV-kosten declareer je via {{link}}"
LINK = "https://fietsbaan.example/storing-18-november"


async def _mastodon_on(demo: Demo, fake: FakeMastodon) -> dict[int, str]:
    """Point the demo's Mastodon sources at the fake, which knows the outage's statuses."""
    async with demo.sessions() as session, session.begin():
        rows = (await session.execute(select(Source).where(Source.kind == "mastodon"))).scalars()
        for source in rows:
            await sources.update_source(
                session,
                source_id=source.id,
                key=demo.settings.secret_bytes(),
                config={
                    "instance_url": fake.server.base_url,
                    "hashtag": "fietsbaan",
                    "access_token": "tok",
                },
            )
        mentions = (
            await session.execute(select(Mention).where(Mention.platform == "mastodon"))
        ).scalars()
        # The platform knows these posts: our instance resolves each by its URI.
        by_status: dict[int, str] = {}
        for mention in mentions:
            status = fake.add_status("known", acct="someone@elsewhere.example")
            status["uri"] = mention.external_id
            by_status[mention.id] = status["id"]
    return by_status


async def test_answering_the_outage_sends_one_reply_per_author_exactly_once(
    demo: Demo,
) -> None:
    outage = await demo.outage()
    async with demo.sessions() as session, session.begin():
        moderator = await session.get(User, demo.moderator_id)
        assert moderator is not None
        english = await templates.create_template(
            session, name="outage", body=EN, language="en", intents=[], topics=[], actor=moderator
        )
        dutch = await templates.create_template(
            session, name="outage", body=NL, language="nl", intents=[], topics=[], actor=moderator
        )
        members = await service.members(session, incident_id=outage.id)
    mastodon_authors = {m.author_id for m in members if m.platform == "mastodon"}
    authors = {m.author_id for m in members if m.author_id is not None}
    assert len(mastodon_authors) >= 10

    missing = await demo.api.post(
        f"/api/v1/incidents/{outage.id}/reply",
        json={"template_id": english.id},
        headers=demo.headers,
    )
    assert missing.status_code == 409 and "{{link}}" in missing.json()["detail"]

    with LoopbackServer("127.0.0.1") as server:
        fake = FakeMastodon(server)
        resolved = await _mastodon_on(demo, fake)
        body = {
            "template_id": english.id,
            "values": {"link": LINK},
            "by_language": {"nl": dutch.id},
        }
        first = await demo.api.post(
            f"/api/v1/incidents/{outage.id}/reply", json=body, headers=demo.headers
        )
        assert first.status_code == 200, first.text
        done = first.json()["done"]
        # One reply per author: each under that author's first mention in the incident.
        assert len({d["author_id"] for d in done}) == len(done)
        assert {d["author_id"] for d in done} | {
            s.get("author_id") for s in first.json()["skipped"]
        } >= mastodon_authors
        assert len(done) + len(first.json()["skipped"]) == len(authors)

        async with make_client(demo.settings) as client:
            for row in done:
                if row["mention_id"] in resolved:
                    sent = await deliver(
                        demo.sessions,
                        outbox_id=row["outbox_id"],
                        settings=demo.settings,
                        client=client,
                    )
                    assert sent.status == "sent", sent.detail
        ours = fake.ours()
        assert len(ours) == len(mastodon_authors)
        targets = Counter(s["in_reply_to_id"] for s in ours)
        assert max(targets.values()) == 1
        async with demo.sessions() as session:
            names = {
                a.id: a
                for a in (
                    await session.execute(select(Author).where(Author.id.in_(mastodon_authors)))
                ).scalars()
            }
            languages = dict((await session.execute(select(Mention.id, Mention.language))).all())
        for row in done:
            if row["mention_id"] not in resolved:
                continue
            status = next(s for s in ours if s["in_reply_to_id"] == resolved[row["mention_id"]])
            content = html.unescape(status["content"])
            author = names[row["author_id"]]
            name = (author.display_name or "").strip()
            # Personal: the author's own name, in the template of their language.
            assert name and f" {name}, " in content, (name, content)
            greeting = "Hoi" if languages[row["mention_id"]] == "nl" else "Hi"
            assert f"{greeting} {name}, " in content
            assert LINK in content

        # Again: nothing new is written or sent.
        again = await demo.api.post(
            f"/api/v1/incidents/{outage.id}/reply", json=body, headers=demo.headers
        )
        assert again.status_code == 200 and again.json()["done"] == []
        assert {s["reason"] for s in again.json()["skipped"]} <= {
            "already-answered",
            "placeholders-unfilled",
            "no-write-api",
        }
        async with make_client(demo.settings) as client:
            for row in done:
                if row["mention_id"] not in resolved:
                    continue  # the other platforms' sources have no credentials in the demo
                await deliver(
                    demo.sessions, outbox_id=row["outbox_id"], settings=demo.settings, client=client
                )
        assert len(fake.ours()) == len(mastodon_authors)
    async with demo.sessions() as session:
        written = (
            await session.execute(
                select(Mention.author_id)
                .join(OutboxMessage, OutboxMessage.mention_id == Mention.id)
                .where(OutboxMessage.template_id.is_not(None))
            )
        ).scalars()
        per_author = Counter(written)
    assert max(per_author.values()) == 1


async def test_one_status_for_all_open_members_goes_through_the_queue(demo: Demo) -> None:
    outage = await demo.outage()
    async with demo.sessions() as session, session.begin():
        members = await service.members(session, incident_id=outage.id)
        open_ones = [m for m in members if m.status in ("new", "open", "escalated", "snoozed")]
        assert len(open_ones) >= 10
        # Someone else is working on one of them: it is left alone.
        other = await session.get(User, demo.moderator_id)
        assert other is not None
        from listener.accounts.service import create_user
        from listener.models import Role

        colleague = await create_user(
            session, username="colleague", password="correct horse", role=Role.MODERATOR
        )
        held = open_ones[0].mention_id
        await claims.claim_item(
            session, mention_id=held, actor=colleague, actor_label="colleague", minutes=30
        )

    answer = await demo.api.post(
        f"/api/v1/incidents/{outage.id}/status",
        json={"status": "resolved", "reason": "outage fixed at 13:40"},
        headers=demo.headers,
    )
    assert answer.status_code == 200, answer.text
    changed = {d["mention_id"] for d in answer.json()["done"]}
    skipped = {s["mention_id"]: s["reason"] for s in answer.json()["skipped"]}
    assert skipped == {held: "claimed"}
    assert changed == {m.mention_id for m in open_ones} - {held}
    async with demo.sessions() as session:
        statuses = dict(
            (
                await session.execute(
                    select(QueueItem.mention_id, QueueItem.status).where(
                        QueueItem.mention_id.in_(changed | {held})
                    )
                )
            ).all()
        )
        audited = (
            await session.execute(
                select(AuditEntry.mention_id).where(
                    AuditEntry.action == "status", AuditEntry.mention_id.in_(changed)
                )
            )
        ).scalars()
        audited_ids = set(audited)
    assert {statuses[i] for i in changed} == {"resolved"}
    assert statuses[held] == open_ones[0].status
    assert audited_ids == changed

    bad = await demo.api.post(
        f"/api/v1/incidents/{outage.id}/status", json={"status": "new"}, headers=demo.headers
    )
    assert bad.status_code == 422

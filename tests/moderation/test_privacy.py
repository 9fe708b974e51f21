"""A person's rights: erasure leaves none of their words and keeps every count; access hands
over everything held about them and nobody else; retention drops what is due and no count."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from listener.digest.builder import build_digest
from listener.digest.document import DigestDocument
from listener.digest.periods import Period
from listener.digest.service import store_digest
from listener.models import (
    AuditEntry,
    Author,
    Digest,
    Mention,
    MentionTopic,
    OutboxMessage,
    QuarantinedItem,
    Role,
    Topic,
)
from listener.models.privacy import ERASED_PREFIX
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from moderation.privacy.chain import verify_chain
from moderation.privacy.retention import apply_retention
from moderation.privacy.tasks import retention_job
from tests.conftest import TEST_SECRET, MakeStaff, Staff
from tests.factories import BASE_TIME, mention
from tests.listener.conftest import luister

TZ = "Europe/Amsterdam"
WEEK = "2026-W47"  # BASE_TIME (20 Nov 2026) falls in it
NOW = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
# Words only the person wrote, and the names they go by.
THEIR_WORDS = ("Zebrapad", "Kwartelkoning", "Ooievaarsnest", "Scharrelei")
THEIR_NAMES = ("@u1@mastodon.example", "User 1", "u1.bsky.social", "Bluesky Een")


@pytest.fixture
def cli_env(database_url: str, engine: AsyncEngine, tmp_path: Path) -> dict[str, str]:
    """A `luister` process environment on the (emptied) test database."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    return clean | {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_DATA_DIR": str(tmp_path / "data"),
        "LUISTER_SECRET_KEY": TEST_SECRET,
    }


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ADMIN, username="privacy-admin")


@pytest.fixture
async def moderator(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="privacy-mod")


async def _store(
    sessions: async_sessionmaker[AsyncSession], items: list[dict[str, Any]]
) -> list[int]:
    async with sessions() as session, session.begin():
        return (await ingest_mentions(session, items, tag=False)).new_mention_ids


@pytest.fixture
async def people(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """One person on Mastodon (two posts) and Bluesky (one, a question), and a stranger."""
    items = [
        mention(1, text="Het Zebrapad bij de school is gevaarlijk", language="nl"),
        mention(8, text="Kwartelkoning gezien bij de nieuwe fietsbaan!", language="nl"),
        mention(
            20,
            platform="bluesky",
            source="bsky",
            external_id="at://did:plc:u1/app.bsky.feed.post/1",
            url="https://bsky.app/profile/u1.bsky.social/post/1",
            text="Waarom ligt er een Ooievaarsnest op de paal?",
            author={
                "platform_id": "did:plc:u1",
                "handle": "u1.bsky.social",
                "display_name": "Bluesky Een",
            },
            engagement={"likes": 7, "reposts": 1, "replies": 0},
        ),
        mention(2, text="The new bike lane is lovely", language="en"),
    ]
    ids = await _store(sessions, items)
    async with sessions() as session, session.begin():
        labels = ["negative", "positive", "neutral", "positive"]
        for mention_id, label in zip(ids, labels, strict=True):
            await session.execute(
                update(Mention)
                .where(Mention.id == mention_id)
                .values(sentiment_label=label, sentiment_score=0.5, intents=["question"])
            )
        topic = Topic(name="verkeer", keywords={"nl": ["zebrapad"]})
        session.add(topic)
        await session.flush()
        session.add(
            MentionTopic(
                mention_id=ids[0], topic_id=topic.id, spans=[{"text": "Zebrapad", "start": 4}]
            )
        )
        session.add(MentionTopic(mention_id=ids[3], topic_id=topic.id, spans=[]))
        session.add(
            QuarantinedItem(
                source_id=None,
                stage="validation",
                external_id=items[0]["external_id"],
                payload=json.dumps({"text": "Scharrelei", "author": "u1"}),
                error="test",
                created_at=BASE_TIME,
            )
        )
        authors = dict((await session.execute(select(Mention.id, Mention.author_id))).all())
    return {
        "ids": ids,
        "items": items,
        "mastodon": authors[ids[0]],
        "bluesky": authors[ids[2]],
        "stranger": authors[ids[3]],
    }


def _totals(doc: DigestDocument) -> dict[str, Any]:
    """Every count a digest states; quotes, names and terms are left out."""
    return {
        "volume": doc.volume.model_dump(),
        "sentiment": doc.sentiment.model_dump(),
        "topics": [(t.topic, t.count, t.previous) for t in doc.topics.top],
        "with_topic": doc.topics.mentions_with_topic,
        "questions": (
            doc.questions.asked,
            doc.questions.unanswered,
            doc.questions.unanswered_total,
        ),
        "sla": doc.sla.model_dump(),
        "response": doc.response.model_dump(),
        "throughput": doc.throughput.model_dump(),
    }


def _engaged(doc: DigestDocument) -> list[tuple[int, int, int | None]]:
    return [(e.id, e.engagement, e.likes) for e in doc.engaged]


async def _tombstones(sessions: async_sessionmaker[AsyncSession]) -> set[int]:
    async with sessions() as session:
        rows = await session.execute(
            select(Mention.id).where(Mention.external_id.startswith(ERASED_PREFIX))
        )
        return set(rows.scalars())


def _quoted(doc: DigestDocument) -> set[int]:
    """Every mention the digest quotes: most engaged, topic examples, waiting questions."""
    stats = [*doc.topics.top, *doc.topics.rising, *doc.topics.falling]
    examples = {c.id for stat in stats for c in stat.examples or []}
    return {e.id for e in doc.engaged} | examples | {q.id for q in doc.questions.oldest}


async def _digest(sessions: async_sessionmaker[AsyncSession]) -> DigestDocument:
    async with sessions() as session:
        return await build_digest(session, period=Period.week(WEEK, TZ), now=NOW)


def _leaks(text: str) -> list[str]:
    return [w for w in (*THEIR_WORDS, *THEIR_NAMES) if w in text]


async def _everything_staff_can_read(
    client: httpx.AsyncClient, staff: Staff, people: dict[str, Any]
) -> str:
    """Listings, details, search, author pages and the audit export, as one text."""
    seen = []
    queue = await client.get("/api/v1/mentions", params={"limit": 200}, headers=staff.headers)
    assert queue.status_code == 200, queue.text
    seen.append(queue.text)
    for mention_id in people["ids"]:
        detail = await client.get(f"/api/v1/mentions/{mention_id}", headers=staff.headers)
        assert detail.status_code == 200, detail.text
        seen.append(detail.text)
    for word in THEIR_WORDS[:3]:
        found = await client.get("/api/v1/search", params={"q": word}, headers=staff.headers)
        assert found.status_code == 200, found.text
        seen.append(found.text)
    for author in ("mastodon", "bluesky"):
        page = await client.get(f"/api/v1/authors/{people[author]}", headers=staff.headers)
        seen.append(page.text)
        said = await client.get(f"/api/v1/authors/{people[author]}/mentions", headers=staff.headers)
        seen.append(said.text)
    export = await client.get("/api/v1/audit/export.csv", headers=staff.headers)
    assert export.status_code == 200
    seen.append(export.text)
    return "\n".join(seen)


async def test_erasing_a_linked_person_leaves_none_of_their_words_and_every_count(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    admin: Staff,
    moderator: Staff,
    people: dict[str, Any],
) -> None:
    linked = await client.post(
        f"/api/v1/authors/{people['mastodon']}/links",
        json={"other_author_id": people["bluesky"], "note": "same avatar"},
        headers=moderator.headers,
    )
    assert linked.status_code == 201, linked.text
    first = people["ids"][0]
    noted = await client.post(
        f"/api/v1/mentions/{first}/notes",
        json={"body": "They wrote: Zebrapad is gevaarlijk", "version": 1},
        headers=moderator.headers,
    )
    assert noted.status_code == 201, noted.text
    await client.post(
        f"/api/v1/authors/{people['bluesky']}/notes",
        json={"body": "User 1 is a regular"},
        headers=moderator.headers,
    )
    async with sessions() as session, session.begin():
        session.add(
            OutboxMessage(
                kind="reply",
                status="scheduled",
                mention_id=first,
                body="Dank @u1@mastodon.example, we kijken naar het Zebrapad",
                idempotency_key="privacy-test-reply",
                scheduled_at=NOW,
            )
        )
        stored = await store_digest(session, period=Period.week(WEEK, TZ), settings=settings)
    stored_before = (stored.mention_count, stored.data["volume"], stored.data["sentiment"])
    before_doc = await _digest(sessions)
    before = _totals(before_doc)
    assert _leaks(await _everything_staff_can_read(client, moderator, people))  # words visible

    refused = await client.post(
        f"/api/v1/authors/{people['bluesky']}/erasure", headers=moderator.headers
    )
    assert refused.status_code == 403
    erased = await client.post(
        f"/api/v1/authors/{people['bluesky']}/erasure", headers=admin.headers
    )

    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert sorted(report["identities"]) == sorted([people["mastodon"], people["bluesky"]])
    counts = report["counts"]
    assert (counts["authors"], counts["mentions"], counts["notes"]) == (2, 3, 1)
    assert (counts["links"], counts["author_notes"], counts["outbox_cancelled"]) == (1, 1, 1)
    assert (counts["quarantined"], counts["digests"]) == (1, 1)
    assert report["already_erased"] is False
    # None of their words or names anywhere staff read: queue, detail, search, authors, export.
    assert _leaks(await _everything_staff_can_read(client, moderator, people)) == []
    async with sessions() as session:
        mentions = (await session.execute(select(Mention).order_by(Mention.id))).scalars().all()
        authors = (await session.execute(select(Author).order_by(Author.id))).scalars().all()
        reply = (await session.execute(select(OutboxMessage))).scalar_one()
        digest = (await session.execute(select(Digest))).scalar_one()
        quarantine = (
            await session.execute(select(func.count()).select_from(QuarantinedItem))
        ).scalar_one()
        spans = (
            await session.execute(
                select(MentionTopic.spans).where(MentionTopic.mention_id == first)
            )
        ).scalar_one()
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "privacy.erasure"))
        ).scalar_one()
        chain = await verify_chain(session)
    everything = " ".join(
        json.dumps([m.text, m.html, m.raw, m.url, m.external_id, m.author_id]) for m in mentions
    )
    everything += json.dumps(
        [[a.platform_id, a.handle, a.display_name, a.profile_url] for a in authors]
    )
    everything += json.dumps([reply.body, digest.data, entry.before, entry.after])
    assert _leaks(everything) == []
    assert "did:plc:u1" not in everything and "statuses/1001" not in everything
    assert (reply.status, reply.body) == ("cancelled", "")
    assert quarantine == 0 and spans == []
    theirs = [m for m in mentions if m.id in people["ids"][:3]]
    assert all(m.external_id.startswith(ERASED_PREFIX) and m.text == "" for m in theirs)
    assert mentions[3].text == "The new bike lane is lovely"  # the stranger keeps their words
    assert entry.actor.startswith("privacy-admin") and entry.after is not None
    assert entry.after["mentions"] == 3 and entry.entity_id == str(people["bluesky"])
    # Every count of the past week's digest, built again and as stored, is what it was.
    after_doc = await _digest(sessions)
    assert _totals(after_doc) == before
    # The tombstones are no longer quoted; everyone else keeps their place.
    erased_ids = await _tombstones(sessions)
    assert erased_ids == set(people["ids"][:3]) and _quoted(before_doc) & erased_ids
    assert not _quoted(after_doc) & erased_ids
    assert _engaged(after_doc) == [e for e in _engaged(before_doc) if e[0] not in erased_ids]
    assert (digest.mention_count, digest.data["volume"], digest.data["sentiment"]) == (
        stored_before
    )
    assert chain.ok, chain.problem

    again = await client.post(
        f"/api/v1/authors/{people['mastodon']}/erasure", headers=admin.headers
    )
    assert again.status_code == 200
    assert again.json()["already_erased"] is True
    assert not any(again.json()["counts"].values())
    missing = await client.post("/api/v1/authors/999999/erasure", headers=admin.headers)
    assert missing.status_code == 404

    # Their posts served again, and a new one of theirs, are not stored; a stranger's is.
    await _store(
        sessions,
        [
            people["items"][0],
            people["items"][2],
            mention(15, text="Scharrelei voor iedereen"),
            mention(9, text="Another lovely day", created_at=NOW.isoformat()),
        ],
    )
    async with sessions() as session:
        texts = list((await session.execute(select(Mention.text).order_by(Mention.id))).scalars())
        platform_ids = set((await session.execute(select(Author.platform_id))).scalars())
    assert texts[-1] == "Another lovely day" and len(texts) == 5
    assert _leaks(" ".join(texts)) == []
    assert {"u1", "did:plc:u1"}.isdisjoint(platform_ids)
    assert _totals(await _digest(sessions)) == before


async def test_access_export_holds_the_person_and_nobody_else_and_escapes_html(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    admin: Staff,
    moderator: Staff,
    people: dict[str, Any],
) -> None:
    await client.post(
        f"/api/v1/authors/{people['mastodon']}/links",
        json={"other_author_id": people["bluesky"]},
        headers=moderator.headers,
    )
    script = "<script>alert('hi')</script> Ooievaarsnest"
    await _store(
        sessions, [mention(22, text=script, html=f"<p>{script}</p>", external_id="x-script")]
    )

    refused = await client.get(
        f"/api/v1/authors/{people['mastodon']}/data", headers=moderator.headers
    )
    assert refused.status_code == 403
    data = await client.get(f"/api/v1/authors/{people['bluesky']}/data", headers=admin.headers)

    assert data.status_code == 200, data.text
    body = data.json()
    texts = sorted(m["text"] for m in body["mentions"])
    assert len(texts) == 4 and script in texts
    assert "The new bike lane is lovely" not in data.text  # the stranger's words stay out
    assert {i["platform_id"] for i in body["identities"]} == {"u1", "did:plc:u1"}
    assert any(e["action"] == "author_link" for e in body["audit"])

    page = await client.get(
        f"/api/v1/authors/{people['mastodon']}/data",
        params={"format": "html"},
        headers=admin.headers,
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt;" in page.text
    assert "Kwartelkoning" in page.text and "lovely" not in page.text
    async with sessions() as session:
        reads = (
            await session.execute(
                select(AuditEntry.after).where(AuditEntry.action == "privacy.access")
            )
        ).scalars()
        formats = sorted(r["format"] for r in reads if r is not None)
    assert formats == ["html", "json"]


@pytest.mark.slow
async def test_people_cli_exports_and_erases_with_exit_codes(
    cli_env: dict[str, str], people: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "person.html"
    exported = luister(
        "people",
        "export",
        str(people["mastodon"]),
        "--format",
        "html",
        "--out",
        str(out),
        env=cli_env,
    )
    assert exported.returncode == 0, exported.stderr
    assert "Zebrapad" in out.read_text() and "lovely" not in out.read_text()
    as_json = luister("people", "export", str(people["stranger"]), env=cli_env)
    assert json.loads(as_json.stdout)["mentions"][0]["text"] == "The new bike lane is lovely"

    unconfirmed = luister("people", "erase", str(people["mastodon"]), env=cli_env)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    unknown = luister("people", "erase", "999999", "--yes", env=cli_env)
    assert unknown.returncode == 2
    erased = luister("people", "erase", str(people["mastodon"]), "--yes", "--json", env=cli_env)
    assert erased.returncode == 0, erased.stderr
    assert json.loads(erased.stdout)["counts"]["mentions"] == 2
    repeated = luister("people", "erase", str(people["mastodon"]), "--yes", "--json", env=cli_env)
    assert repeated.returncode == 0 and json.loads(repeated.stdout)["already_erased"] is True


async def test_retention_drops_raw_and_html_when_due_and_keeps_the_digest_right(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, people: dict[str, Any]
) -> None:
    recent = BASE_TIME + timedelta(days=35)
    await _store(
        sessions,
        [mention(40, created_at=recent.isoformat(), raw={"id": "40"}, text="Recent post")],
    )
    async with sessions() as session, session.begin():
        await session.execute(update(Mention).values(raw={"id": "kept until due"}))
    before = _totals(await _digest(sessions))
    now = BASE_TIME + timedelta(days=40)  # the W47 posts are 40 days old, the recent one 5
    configured = settings.model_copy(update={"retention_raw_days": 30})

    first = await apply_retention(sessions, settings=configured, now=now)
    second = await apply_retention(sessions, settings=configured, now=now)

    assert (first.raw_dropped, first.quarantine_deleted) == (4, 1)
    assert second.raw_dropped == 0  # nothing left to do: idempotent
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Mention.raw, Mention.html, Mention.text).order_by(Mention.id)
            )
        ).all()
    assert [(raw, html) for raw, html, _ in rows[:4]] == [(None, None)] * 4
    assert rows[4].raw == {"id": "kept until due"} and rows[4].html is not None
    assert rows[0].text.startswith("Het Zebrapad")  # plain text stays
    assert _totals(await _digest(sessions)) == before
    assert await retention_job({"settings": settings, "sessions": sessions}) == {}


async def test_retention_pseudonymises_quiet_people_and_cuts_the_audit_log(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, people: dict[str, Any]
) -> None:
    async with sessions() as session, session.begin():
        for days in (900, 500, 10):
            session.add(
                AuditEntry(
                    entity="test",
                    entity_id="1",
                    action="old",
                    actor="test",
                    created_at=NOW - timedelta(days=days),
                )
            )
        await session.execute(update(Author).values(first_seen_at=BASE_TIME))
    before_doc = await _digest(sessions)
    before = _totals(before_doc)
    configured = settings.model_copy(
        update={"retention_author_days": 30, "retention_audit_years": 2}
    )

    report = await apply_retention(sessions, settings=configured, now=NOW)

    assert report.authors_pseudonymised == 3 and report.mentions_erased == 4
    assert report.audit_deleted == 1  # the entry 900 days old; the rest are younger
    async with sessions() as session:
        names = (await session.execute(select(Author.handle, Author.platform_id))).all()
        chain = await verify_chain(session)
    assert all(h is None and p.startswith(ERASED_PREFIX) for h, p in names)
    after_doc = await _digest(sessions)
    assert _totals(after_doc) == before
    erased_ids = await _tombstones(sessions)
    assert len(erased_ids) == 4 and not _quoted(after_doc) & erased_ids
    assert _engaged(after_doc) == [e for e in _engaged(before_doc) if e[0] not in erased_ids]
    assert chain.ok, chain.problem
    assert chain.base_seq == 2

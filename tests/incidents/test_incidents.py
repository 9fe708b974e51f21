"""Issue 15 on the demo: the 18 November outage is one incident; new members join while it
is open; the API lists it with its size; the week's digest names it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from listener.digest.builder import build_digest
from listener.digest.periods import Period
from listener.digest.render import render
from listener.models import IncidentMember, Mention, QueueItem
from listener.sources.ingest import ingest_mentions
from moderation.incidents import service
from tests.incidents.conftest import Demo

# One worker runs the module: its demo database is built once and the tests share it.
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.xdist_group("test_incidents")]


async def test_the_outage_is_one_incident_holding_its_mentions(demo: Demo) -> None:
    outage = await demo.outage()
    async with demo.sessions() as session:
        queued_that_day = (
            await session.execute(
                select(func.count())
                .select_from(Mention)
                .join(QueueItem, QueueItem.mention_id == Mention.id)
                .where(
                    Mention.created_at >= datetime(2026, 11, 18, tzinfo=UTC),
                    Mention.created_at < datetime(2026, 11, 19, tzinfo=UTC),
                )
            )
        ).scalar_one()
        members = await service.members(session, incident_id=outage.id)
        texts = {m.text for m in members}
    assert outage.mention_count == len(members) >= 60
    # Every queued mention of that day, and nothing of another day.
    assert len(members) == queued_that_day
    assert {m.created_at.date().isoformat() for m in members} == {"2026-11-18"}
    # Replies without a word about the outage belong to it through their thread.
    assert "Vaartsche Rijn ook" in texts and "Overvecht ook" in texts
    assert {"storing", "outage"} & set(outage.terms), outage.title
    assert outage.started_at.isoformat().startswith("2026-11-18T06:43")
    assert outage.peak_at == datetime(2026, 11, 18, 7, tzinfo=UTC)
    assert outage.ended_at.isoformat().startswith("2026-11-18T18:38")
    assert outage.author_count >= 40


async def test_the_api_lists_incidents_page_by_page_with_their_size(demo: Demo) -> None:
    outage = await demo.outage()
    first = await demo.api.get("/api/v1/incidents?limit=1", headers=demo.headers)
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 1 and first.json()["next_cursor"]
    seen = [first.json()["items"][0]["id"]]
    cursor = first.json()["next_cursor"]
    while cursor:
        page = await demo.api.get(
            "/api/v1/incidents", params={"limit": 1, "cursor": cursor}, headers=demo.headers
        )
        assert page.status_code == 200
        seen += [i["id"] for i in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert outage.id in seen and len(seen) == len(set(seen))
    listed = (await demo.api.get("/api/v1/incidents", headers=demo.headers)).json()["items"]
    assert {i["id"]: i["mention_count"] for i in listed}[outage.id] == outage.mention_count

    detail = await demo.api.get(f"/api/v1/incidents/{outage.id}", headers=demo.headers)
    assert detail.status_code == 200
    assert len(detail.json()["members"]) == outage.mention_count
    assert (await demo.api.get("/api/v1/incidents/999999", headers=demo.headers)).status_code == 404
    bad = await demo.api.get("/api/v1/incidents?cursor=nonsense", headers=demo.headers)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )


async def test_the_digest_of_the_week_names_the_outage(demo: Demo) -> None:
    outage = await demo.outage()
    async with demo.sessions() as session:
        document = await build_digest(
            session,
            period=Period.week("2026-W47", "Europe/Amsterdam"),
            now=datetime(2026, 11, 23, 9, tzinfo=UTC),
        )
        earlier_week = await build_digest(
            session,
            period=Period.week("2026-W44", "Europe/Amsterdam"),
            now=datetime(2026, 11, 2, 9, tzinfo=UTC),
        )
    assert document.incidents is not None
    assert outage.id in [i.id for i in document.incidents.items]
    text = render(document, "md", "en")
    assert "## Incidents" in text and outage.title in text
    assert f"{outage.mention_count} mentions" in text
    html = render(document, "html", "nl")
    assert "Incidenten" in html and outage.title in html
    assert earlier_week.incidents is not None
    assert outage.id not in [i.id for i in earlier_week.incidents.items]


async def test_detection_is_idempotent_and_new_members_join_only_while_open(
    demo: Demo,
) -> None:
    outage = await demo.outage()
    async with demo.sessions() as session, session.begin():
        again = await service.detect_incidents(session)
    assert again.created == [] and again.joined == {}

    async with demo.sessions() as session:
        root = (
            await session.execute(
                select(Mention).where(Mention.text.like("Storing bij Fietsbaan? Dock op Utrecht%"))
            )
        ).scalar_one()
    late = await _reply(demo, root, "late-1", "Bij mij in Zuilen ook nog steeds niks")
    # A reply under a member joins as it is stored (the ingest reaction) ...
    async with demo.sessions() as session:
        member = await session.get(IncidentMember, late)
        assert member is not None and member.incident_id == outage.id
    assert (await demo.outage()).mention_count == outage.mention_count + 1
    # ... and the periodic run finds nothing left to add.
    async with demo.sessions() as session, session.begin():
        joined = await service.detect_incidents(session)
    assert joined.joined == {} and joined.created == []
    assert (await demo.outage()).mention_count == outage.mention_count + 1

    async with demo.sessions() as session, session.begin():
        from listener.models import User

        moderator = await session.get(User, demo.moderator_id)
        assert moderator is not None
        await service.close(session, incident_id=outage.id, actor=moderator, actor_label="mod")
    after_close = await _reply(demo, root, "late-2", "Nog een late reactie uit Zuilen")
    async with demo.sessions() as session, session.begin():
        report = await service.detect_incidents(session)
    assert report.joined == {} and report.created == []
    async with demo.sessions() as session:
        assert await session.get(IncidentMember, after_close) is None
    closed = await demo.api.post(f"/api/v1/incidents/{outage.id}/close", headers=demo.headers)
    assert closed.status_code == 409
    reopened = await demo.api.post(f"/api/v1/incidents/{outage.id}/reopen", headers=demo.headers)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"


async def _reply(demo: Demo, root: Mention, external_id: str, text: str) -> int:
    """A new reply in the thread of `root`, heard now through its source."""
    item = {
        "platform": root.platform,
        "external_id": external_id,
        "text": text,
        "language": "nl",
        "created_at": "2026-11-18T19:30:00+00:00",
        "reply_to_external_id": root.external_id,
        "thread_external_id": root.thread_external_id or root.external_id,
        "author": {
            "platform_id": f"https://mastodon.example/users/{external_id}",
            "handle": f"@{external_id}@mastodon.example",
        },
    }
    async with demo.sessions() as session, session.begin():
        report = await ingest_mentions(session, [item], source_id=root.source_id)
    return report.new_mention_ids[0]


async def test_erasing_a_member_keeps_the_count_and_no_title_word_is_one_persons(
    demo: Demo,
) -> None:
    from listener.kit.stems import words
    from listener.models import User
    from moderation.privacy.service import erase_person

    async with demo.sessions() as session, session.begin():
        # Whatever other tests left waiting joins now, so the counts below are settled.
        await service.detect_incidents(session)
    outage = await demo.outage()
    async with demo.sessions() as session, session.begin():
        mention = (
            await session.execute(
                select(Mention).where(Mention.text.like("Storing bij Fietsbaan? Dock op Utrecht%"))
            )
        ).scalar_one()
        moderator = await session.get(User, demo.moderator_id)
        assert mention.author_id is not None and moderator is not None
        await erase_person(
            session,
            author_id=mention.author_id,
            secret=demo.settings.secret_bytes(),
            actor=moderator,
        )
    async with demo.sessions() as session, session.begin():
        await service.detect_incidents(session)
    after = await demo.outage()
    assert after.mention_count == outage.mention_count
    async with demo.sessions() as session:
        members = await service.members(session, incident_id=after.id)
    erased = next(m for m in members if m.mention_id == mention.id)
    assert erased.text == ""
    # Every title word is still in the words of at least three other authors.
    for term in after.terms:
        authors = {m.author_id for m in members if term in {w.lower() for w in words(m.text)}}
        assert len(authors) >= 3, term

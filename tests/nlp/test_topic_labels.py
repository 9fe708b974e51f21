"""Topics read as labels in the reader's language, never as keys: taxonomy, API, templates."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import AuditEntry, MentionTopic, Role, Topic
from listener.nlp.taxonomy import DEFAULT_TAXONOMY
from listener.nlp.topics_store import import_topics, taxonomy_items, topic_label, topic_labels
from moderation.outbox import reply_templates
from tests.conftest import MakeStaff
from tests.moderation.staff import staff_user
from tests.nlp.db_helpers import ingest_texts

Sessions = async_sessionmaker[AsyncSession]


def test_a_topic_reads_in_the_readers_language_then_english_then_its_description_or_words() -> None:
    labels = {"en": "Delivery and shipping", "nl": "Bezorging en verzending"}
    assert topic_label("delivery", labels, None, "nl") == "Bezorging en verzending"
    assert topic_label("delivery", labels, None, "de") == "Delivery and shipping"
    assert topic_label("delivery", {}, "Parcels and couriers", "nl") == "Parcels and couriers"
    long_note = "Everything about parcels, " * 5
    assert topic_label("app_website", {}, long_note, "nl") == "App website"
    assert topic_label("app_website", None, None, None) == "App website"


async def test_the_example_taxonomy_brings_dutch_labels_and_a_file_without_labels_keeps_them(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        await import_topics(session, items=taxonomy_items(DEFAULT_TAXONOMY), actor="test")
    async with sessions() as session:
        dutch = await topic_labels(session, "nl")
        english = await topic_labels(session, "en")
    assert dutch["app_website"] == "App en website"
    assert english["app_website"] == "App and website"
    assert dutch["delivery"] == "Bezorging en verzending"
    assert all(label and "_" not in label for label in dutch.values())

    # An older taxonomy file (no labels) updates the terms and leaves the labels alone.
    older = [
        {k: v for k, v in item.items() if k != "labels"}
        for item in taxonomy_items(DEFAULT_TAXONOMY)
    ]
    older[0]["keywords"] = {"en": ["parcel"]}
    async with sessions() as session, session.begin():
        counts = await import_topics(session, items=older, actor="test")
    assert counts["updated"] == 1
    async with sessions() as session:
        assert (await topic_labels(session, "nl"))["delivery"] == "Bezorging en verzending"


async def test_admins_set_labels_through_the_api_and_bad_ones_are_refused_clearly(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    admin = await make_staff(Role.ADMIN)
    created = await client.post(
        "/api/v1/topics",
        json={"name": "docks", "keywords": {"nl": ["dock"]}, "labels": {"NL": "Stallingen"}},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["labels"] == {"nl": "Stallingen"}
    topic_id = created.json()["id"]

    changed = await client.patch(
        f"/api/v1/topics/{topic_id}",
        json={"labels": {"en": "Docks", "nl": "Fietsdocks"}},
        headers=admin.headers,
    )
    assert changed.json()["labels"] == {"en": "Docks", "nl": "Fietsdocks"}
    assert (await client.get(f"/api/v1/topics/{topic_id}", headers=admin.headers)).json()[
        "labels"
    ] == {"en": "Docks", "nl": "Fietsdocks"}

    for bad in ({"dutch": "Docks"}, {"nl": ""}, {"nl": "x" * 101}):
        refused = await client.patch(
            f"/api/v1/topics/{topic_id}", json={"labels": bad}, headers=admin.headers
        )
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == "application/problem+json"
        assert "labels" in refused.text
    async with sessions() as session:
        audited = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "topic.update"))
        ).scalar_one()
        assert audited.before is not None and audited.after is not None
        assert audited.before["labels"] == {"nl": "Stallingen"}
        assert audited.after["labels"] == {"en": "Docks", "nl": "Fietsdocks"}


async def test_a_template_fills_topic_with_the_label_in_the_templates_language(
    sessions: Sessions,
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Topic(
                name="outage",
                keywords={"en": ["outage"], "nl": ["storing"]},
                labels={"en": "Outages", "nl": "Storingen"},
            )
        )
    [mid] = await ingest_texts(sessions, ["Is er een storing bij de app?"], language="nl")
    async with sessions() as session, session.begin():
        assert (await session.execute(select(MentionTopic))).scalars().all()
        user = await staff_user(session, "sam", Role.MODERATOR)
        dutch = await reply_templates.create_template(
            session, name="nl", body="Over {{topic}}: we kijken ernaar.", actor=user, language="nl"
        )
        english = await reply_templates.create_template(
            session, name="en", body="About {{topic}}: on it.", actor=user, language="en"
        )
    async with sessions() as session:
        nl = await reply_templates.render(session, template_id=dutch.id, mention_id=mid)
        en = await reply_templates.render(session, template_id=english.id, mention_id=mid)
    assert nl.text == "Over Storingen: we kijken ernaar."
    assert en.text == "About Outages: on it."

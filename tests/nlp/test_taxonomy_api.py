"""Admins manage the topic taxonomy and trained models through the API; everyone may read."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import AuditEntry, NlpModel, Role
from tests.conftest import MakeStaff
from tests.nlp.db_helpers import ingest_texts, topics_of

Sessions = async_sessionmaker[AsyncSession]
DELIVERY = {
    "name": "delivery",
    "description": "Delivery and shipping",
    "keywords": {"EN": ["parcel", " courier "], "nl": ["pakket"], "*": ["PostNL"]},
}


async def test_admin_creates_a_topic_and_new_mentions_are_tagged_with_it(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    admin = await make_staff(Role.ADMIN)
    created = await client.post("/api/v1/topics", json=DELIVERY, headers=admin.headers)
    assert created.status_code == 201
    assert created.json()["keywords"] == {
        "en": ["parcel", "courier"],
        "nl": ["pakket"],
        "*": ["PostNL"],
    }
    [mid] = await ingest_texts(sessions, ["Where is my parcel? PostNL says delivered"])
    assert set((await topics_of(sessions, mid))["delivery"][0]) == {"start", "end", "text"}
    listed = await client.get("/api/v1/topics", headers=admin.headers)
    assert [t["name"] for t in listed.json()] == ["delivery"]


async def test_topic_names_are_unique(client: httpx.AsyncClient, make_staff: MakeStaff) -> None:
    admin = await make_staff(Role.ADMIN)
    await client.post("/api/v1/topics", json=DELIVERY, headers=admin.headers)
    again = await client.post("/api/v1/topics", json=DELIVERY, headers=admin.headers)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_admin_renames_and_rewords_a_topic_then_deletes_it_all_audited(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff
) -> None:
    admin = await make_staff(Role.ADMIN)
    topic_id = (await client.post("/api/v1/topics", json=DELIVERY, headers=admin.headers)).json()[
        "id"
    ]
    changed = await client.patch(
        f"/api/v1/topics/{topic_id}",
        json={"name": "shipping", "keywords": {"en": ["shipment"]}},
        headers=admin.headers,
    )
    assert changed.json()["name"] == "shipping"
    assert changed.json()["description"] == "Delivery and shipping"
    assert changed.json()["keywords"] == {"en": ["shipment"]}
    gone = await client.delete(f"/api/v1/topics/{topic_id}", headers=admin.headers)
    assert gone.status_code == 204
    missing = await client.get(f"/api/v1/topics/{topic_id}", headers=admin.headers)
    assert missing.status_code == 404
    async with sessions() as session:
        actions = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor_user_id)
                .where(AuditEntry.entity == "topic")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == [(a, admin.id) for a in ("topic.create", "topic.update", "topic.delete")]


async def test_moderators_read_topics_but_cannot_change_them(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    moderator = await make_staff(Role.MODERATOR)
    denied = await client.post("/api/v1/topics", json=DELIVERY, headers=moderator.headers)
    assert denied.status_code == 403
    assert (await client.get("/api/v1/topics", headers=moderator.headers)).json() == []


async def test_keywords_must_be_keyed_by_language(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    admin = await make_staff(Role.ADMIN)
    bad = {"name": "x", "keywords": {"english": ["parcel"]}}
    assert (await client.post("/api/v1/topics", json=bad, headers=admin.headers)).status_code == 422


def _model_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _model(sessions: Sessions, path: Path, *, version: str, active: bool) -> int:
    async with sessions() as session, session.begin():
        model = NlpModel(
            language="en",
            version=version,
            path=str(_model_dir(path)),
            train_size=80,
            heldout_size=20,
            macro_f1=0.8,
            accuracy=0.85,
            lexicon_macro_f1=0.7,
            lexicon_accuracy=0.75,
            scores={},
            active=active,
            created_by="cli",
        )
        session.add(model)
        await session.flush()
        return model.id


async def test_admin_switches_the_active_model_and_analysts_see_the_scores(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff, tmp_path: Path
) -> None:
    first = await _model(sessions, tmp_path / "v1", version="textcat-en:v1", active=True)
    second = await _model(sessions, tmp_path / "v2", version="textcat-en:v2", active=False)
    admin, analyst = await make_staff(Role.ADMIN), await make_staff(Role.ANALYST)
    denied = await client.post(f"/api/v1/nlp/models/{second}/activate", headers=analyst.headers)
    assert denied.status_code == 403
    activated = await client.post(f"/api/v1/nlp/models/{second}/activate", headers=admin.headers)
    assert activated.json()["active"] is True
    again = await client.post(f"/api/v1/nlp/models/{second}/activate", headers=admin.headers)
    assert again.status_code == 409
    listed = (await client.get("/api/v1/nlp/models", headers=analyst.headers)).json()
    assert {m["id"]: m["active"] for m in listed} == {first: False, second: True}
    assert listed[0]["lexicon_macro_f1"] == 0.7
    back = await client.post(f"/api/v1/nlp/models/{second}/deactivate", headers=admin.headers)
    assert back.json()["active"] is False


async def test_a_model_whose_files_are_gone_cannot_be_activated(
    client: httpx.AsyncClient, sessions: Sessions, make_staff: MakeStaff, tmp_path: Path
) -> None:
    model_id = await _model(sessions, tmp_path / "v1", version="textcat-en:v1", active=False)
    (tmp_path / "v1").rmdir()
    admin = await make_staff(Role.ADMIN)
    answer = await client.post(f"/api/v1/nlp/models/{model_id}/activate", headers=admin.headers)
    assert answer.status_code == 409
    assert "missing" in answer.json()["detail"]

"""The digest API: analysts read digests and alerts, admins manage lists and send; all audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.delivery import deliver_due
from listener.models import Alert, AuditEntry, IntegrationEvent, Role
from listener.settings import Settings
from tests.conftest import TEST_SECRET, MakeStaff, Staff
from tests.digest.conftest import Inbox
from tests.digest.data import TZ, History

PROBLEM = "application/problem+json"


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> Iterator[Settings]:
    """Test settings with email going to the loopback SMTP server."""
    yield Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        run_jobs=False,
        digest_timezone=TZ,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        smtp_security="none",
    )


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    """An admin."""
    return await make_staff(Role.ADMIN, username="root")


@pytest.fixture
async def analyst(make_staff: MakeStaff) -> Staff:
    """An analyst (read only)."""
    return await make_staff(Role.ANALYST, username="ana")


async def _make_list(client: httpx.AsyncClient, admin: Staff, **body: object) -> httpx.Response:
    payload: dict[str, object] = {"name": "team", "emails": ["team@fietsbaan.example"]}
    payload.update(body)
    return await client.post("/api/v1/recipient-lists", json=payload, headers=admin.headers)


async def test_admin_builds_sends_and_everyone_reads_the_digest(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    admin: Staff,
    analyst: Staff,
    smtp_server: tuple[Inbox, int],
) -> None:
    made = await _make_list(client, admin, language="nl")
    assert made.status_code == 201, made.text
    built = await client.post(
        "/api/v1/digests",
        json={"week": "2026-W47", "recipient_list_id": made.json()["id"]},
        headers=admin.headers,
    )
    assert built.status_code == 201, built.text
    digest = built.json()
    assert (digest["mention_count"], digest["language"]) == (10, "nl")
    assert digest["data"]["volume"]["per_day"][2]["count"] == 3

    sent = await client.post(f"/api/v1/digests/{digest['id']}/send", headers=admin.headers)
    assert sent.status_code == 202, sent.text
    assert [(d["recipient"], d["status"]) for d in sent.json()] == [
        ("team@fietsbaan.example", "pending")
    ]
    await deliver_due(sessions, settings=settings)  # what the runner or a worker does next
    assert smtp_server[0].messages[0]["Subject"] == "Luisterdigest 2026-W47"

    listed = await client.get("/api/v1/digests", headers=analyst.headers)
    assert listed.json()["items"][0]["deliveries"] == {"sent": 1}
    html = await client.get(f"/api/v1/digests/{digest['id']}?format=html", headers=analyst.headers)
    assert html.headers["content-type"].startswith("text/html")
    assert "Luisterdigest 2026-W47" in html.text and "data:image/png;base64," in html.text
    md = await client.get(f"/api/v1/digests/{digest['id']}?format=md", headers=analyst.headers)
    assert md.text.startswith("# Luisterdigest 2026-W47")
    deliveries = await client.get(
        f"/api/v1/digests/{digest['id']}/deliveries", headers=admin.headers
    )
    assert deliveries.json()[0]["attempts"] == 1


async def test_analysts_read_but_do_not_build_or_see_addresses(
    client: httpx.AsyncClient, history: History, analyst: Staff
) -> None:
    preview = await client.get(
        "/api/v1/digests/preview",
        params={"week": "2026-W47", "topics": ["outage"]},
        headers=analyst.headers,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["volume"]["total"] == 5
    markdown = await client.get(
        "/api/v1/digests/preview",
        params={"week": "2026-W47", "format": "md", "language": "nl"},
        headers=analyst.headers,
    )
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Luisterdigest 2026-W47")
    for method, path in (
        ("POST", "/api/v1/digests"),
        ("GET", "/api/v1/recipient-lists"),
        ("POST", "/api/v1/alerts/check"),
    ):
        refused = await client.request(method, path, json={}, headers=analyst.headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
    assert (await client.get("/api/v1/digests")).status_code == 401


async def test_recipient_lists_are_validated_unique_and_audited(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], admin: Staff
) -> None:
    first = await _make_list(client, admin)
    duplicate = await _make_list(client, admin)
    bad = await _make_list(client, admin, name="other", emails=["not-an-address"])
    assert (first.status_code, duplicate.status_code, bad.status_code) == (201, 409, 422)
    assert duplicate.headers["content-type"] == PROBLEM
    list_id = first.json()["id"]
    changed = await client.patch(
        f"/api/v1/recipient-lists/{list_id}",
        json={"send_when_quiet": True, "topics": ["outage"]},
        headers=admin.headers,
    )
    assert changed.json()["send_when_quiet"] is True
    assert changed.json()["emails"] == ["team@fietsbaan.example"]
    gone = await client.delete(f"/api/v1/recipient-lists/{list_id}", headers=admin.headers)
    assert gone.status_code == 204
    async with sessions() as session:
        audit = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor).where(
                    AuditEntry.entity == "recipient_list"
                )
            )
        ).all()
    assert [a for a, _ in audit] == ["create", "update", "delete"]
    assert all(actor.startswith("root") for _, actor in audit)


async def test_bad_periods_are_422_and_unlisted_digests_cannot_be_sent(
    client: httpx.AsyncClient, history: History, admin: Staff
) -> None:
    bad_week = await client.post(
        "/api/v1/digests", json={"week": "2027-W53"}, headers=admin.headers
    )
    half_range = await client.post(
        "/api/v1/digests", json={"first_day": "2026-11-16"}, headers=admin.headers
    )
    assert (bad_week.status_code, half_range.status_code) == (422, 422)
    adhoc = await client.post(
        "/api/v1/digests",
        json={"first_day": "2026-11-16", "last_day": "2026-11-18"},
        headers=admin.headers,
    )
    assert adhoc.json()["period_label"] == "2026-11-16..2026-11-18"
    assert adhoc.json()["mention_count"] == 5
    refused = await client.post(f"/api/v1/digests/{adhoc.json()['id']}/send", headers=admin.headers)
    assert refused.status_code == 409
    assert "recipient_list_id" in refused.json()["detail"]


async def test_alerts_and_their_events_are_readable_by_integrations(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    analyst: Staff,
) -> None:
    async with sessions() as session, session.begin():
        alert = Alert(
            metric="volume",
            dimension="topic",
            dimension_key="outage",
            window_start=datetime(2026, 11, 18, 8, tzinfo=UTC),
            window_end=datetime(2026, 11, 18, 9, tzinfo=UTC),
            observed=15,
            baseline=0.1,
            z_score=14.9,
            count=15,
            drivers={"terms": [{"term": "docks", "mentions": 15}]},
        )
        session.add(alert)
        await session.flush()
        session.add(IntegrationEvent(type="alert.raised", subject=f"alert:{alert.id}", payload={}))
    alerts = (await client.get("/api/v1/alerts", headers=analyst.headers)).json()
    assert [(a["key"], a["drivers"]["terms"][0]["term"]) for a in alerts["items"]] == [
        ("outage", "docks")
    ]
    events = (await client.get("/api/v1/integration-events", headers=analyst.headers)).json()
    assert [e["type"] for e in events["items"]] == ["alert.raised"]
    later = await client.get(
        "/api/v1/integration-events",
        params={"after": events["next_after"]},
        headers=analyst.headers,
    )
    assert later.json() == {"items": [], "next_after": events["next_after"]}

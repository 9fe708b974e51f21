"""Late data: a weekly digest already built and sent is revised when mentions of its week
arrive afterwards (import, backfill, a poll after downtime), and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts.tasks import alert_tick
from listener.digest import service
from listener.digest.delivery import deliver_due
from listener.digest.periods import Period
from listener.digest.schedule import revise_late_digests
from listener.digest.tasks import digest_tick
from listener.models import Alert, Delivery, Digest, Mention, Role
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from tests.conftest import MakeStaff
from tests.digest.conftest import Inbox
from tests.digest.data import TZ, History
from tests.digest.test_alerts import SPIKE_HOUR, _spiky_history
from tests.factories import mention

MONDAY_0830 = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)  # 08:30 in Amsterdam, W47's send time
LATER = MONDAY_0830 + timedelta(days=2)


async def _digests(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Digest]:
    async with sessions() as session:
        rows = (await session.execute(select(Digest).order_by(Digest.id))).scalars().all()
    return {d.language: d for d in rows}


async def test_a_sent_digest_is_revised_when_its_week_gets_late_mentions(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    smtp_server: tuple[Inbox, int],
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
) -> None:
    inbox, port = smtp_server
    settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "digest_timezone": TZ,
        }
    )
    async with sessions() as session, session.begin():
        # The history was heard as it happened, before the digest was built.
        await session.execute(update(Mention).values(fetched_at=MONDAY_0830 - timedelta(hours=1)))
        for values in (
            {"name": "all", "emails": ["team@fietsbaan.example"]},
            {
                "name": "nl",
                "emails": ["nl@fietsbaan.example"],
                "language": "nl",
                "topics": ["outage"],
            },
        ):
            await service.create_list(session, values=values, actor="test")

    first = await digest_tick(sessions, settings=settings, now=MONDAY_0830)
    assert (len(first["digests_built"]), first["digests_revised"]) == (2, [])
    await deliver_due(sessions, settings=settings)  # emails are due from when they were queued
    assert len(inbox.messages) == 2
    sent = await _digests(sessions)
    assert (sent["en"].mention_count, sent["en"].revised_at) == (10, None)

    # Three posts of W47 (Friday 20 Nov) arrive days later, from an import.
    async with sessions() as session, session.begin():
        report = await ingest_mentions(session, [mention(n) for n in (1, 2, 3)], tag=False)
        # ... heard on Wednesday morning (the test's clock, not the machine's).
        await session.execute(
            update(Mention)
            .where(Mention.id.in_(report.new_mention_ids))
            .values(fetched_at=LATER - timedelta(hours=1))
        )
    assert len(report.new_mention_ids) == 3

    tick = await digest_tick(sessions, settings=settings, now=LATER)
    revised = await _digests(sessions)
    en, nl = revised["en"], revised["nl"]
    assert tick["digests_revised"] == [en.id]  # the nl list follows outage; the posts are not
    assert (en.mention_count, en.late_mentions, en.revised_at) == (13, 3, LATER)
    assert en.data["volume"]["total"] == 13
    assert en.data["revision"] == {"revised_at": LATER.isoformat(), "late_mentions": 3}
    assert (nl.mention_count, nl.revised_at, nl.built_at) == (5, None, sent["nl"].built_at)
    # The revision is not emailed again.
    await deliver_due(sessions, settings=settings)
    assert len(inbox.messages) == 2
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Delivery))).scalar() == 2

    # Shown in the API and in the rendered digest.
    staff = await make_staff(Role.ADMIN)
    out = await client.get(f"/api/v1/digests/{en.id}", headers=staff.headers)
    assert out.status_code == 200, out.text
    body = out.json()
    assert (body["late_mentions"], body["mention_count"]) == (3, 13)
    assert datetime.fromisoformat(body["revised_at"]) == LATER
    line = "Revised on 2026-11-25: 3 mentions arrived after it was first built"
    md = await client.get(
        f"/api/v1/digests/{en.id}", params={"format": "md"}, headers=staff.headers
    )
    assert line in md.text
    html = await client.get(
        f"/api/v1/digests/{en.id}", params={"format": "html"}, headers=staff.headers
    )
    assert line in html.text
    listed = await client.get("/api/v1/digests", headers=staff.headers)
    assert [d["late_mentions"] for d in listed.json()["items"] if d["id"] == en.id] == [3]

    # Running the job again changes nothing until more late mentions arrive.
    again = await digest_tick(sessions, settings=settings, now=LATER + timedelta(minutes=1))
    direct = await revise_late_digests(sessions, settings=settings, now=LATER + timedelta(hours=2))
    assert (again["digests_revised"], direct) == ([], [])
    unchanged = (await _digests(sessions))["en"]
    assert (unchanged.built_at, unchanged.data) == (en.built_at, en.data)


async def test_a_digest_built_mid_week_is_not_revised_by_the_rest_of_the_week(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, history: History
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Mention).values(fetched_at=datetime(2026, 11, 1, tzinfo=UTC)))
        digest = await service.store_digest(
            session,
            period=Period.week("2026-W47", TZ),
            settings=settings,
            now=datetime(2026, 11, 19, 12, tzinfo=UTC),
        )
    async with sessions() as session, session.begin():
        await ingest_mentions(session, [mention(1)], tag=False)
    assert await revise_late_digests(sessions, settings=settings, now=LATER) == []
    async with sessions() as session:
        stored = await session.get(Digest, digest.id)
    assert stored is not None and stored.revised_at is None


async def test_the_hourly_alert_check_catches_up_on_hours_that_got_late_data(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    alert_settings = settings.model_copy(
        update={"alert_baseline_hours": 24, "alert_min_count": 10, "alert_cooldown_hours": 6}
    )
    two_days_on = SPIKE_HOUR + timedelta(days=2)
    quiet = await alert_tick(sessions, settings=alert_settings, now=two_days_on)
    async with sessions() as session, session.begin():  # the outage's posts, imported late
        await _spiky_history(session)
        await session.execute(update(Mention).values(fetched_at=two_days_on + timedelta(hours=1)))

    late = await alert_tick(sessions, settings=alert_settings, now=two_days_on + timedelta(hours=2))
    again = await alert_tick(
        sessions, settings=alert_settings, now=two_days_on + timedelta(hours=3)
    )

    assert (quiet["alerts"], again["alerts"]) == ([], [])
    async with sessions() as session:
        alerts = (await session.execute(select(Alert).order_by(Alert.id))).scalars().all()
    assert sorted(a.id for a in alerts) == sorted(late["alerts"])
    assert ("volume", "topic", "outage", SPIKE_HOUR) in {
        (a.metric, a.dimension, a.dimension_key, a.window_start) for a in alerts
    }, [(a.metric, a.dimension, a.dimension_key, a.window_start) for a in alerts]

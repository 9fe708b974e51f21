"""A synthetic spike raises exactly one alert naming its topic, its drivers, an event and emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts import check_spikes
from listener.alerts.detect import GroupStats, Rule, negative_share_spike, volume_spike
from listener.digest import service
from listener.digest.delivery import deliver_due
from listener.models import (
    Alert,
    Author,
    Delivery,
    IntegrationEvent,
    Mention,
    MentionTopic,
    QueueItem,
    Source,
    Topic,
)
from listener.settings import Settings
from tests.digest.conftest import Inbox

SPIKE_HOUR = datetime(2026, 11, 18, 8, tzinfo=UTC)
BACKGROUND_PER_HOUR = 20
SPIKE_TEXTS = [
    "Docks kapot bij Centraal, niemand kan een fiets pakken",
    "Fietsbaan storing: docks kapot en de app hangt",
    "Weer docks kapot in Utrecht #fietsbaan",
]


@pytest.fixture
def alert_settings(settings: Settings) -> Settings:
    """Settings with a one-day baseline, so the synthetic history stays small."""
    return settings.model_copy(
        update={"alert_baseline_hours": 24, "alert_min_count": 10, "alert_cooldown_hours": 6}
    )


async def _spiky_history(session: AsyncSession) -> None:
    """20 untopical mentions an hour for a day; then two hours with 15 'outage' posts each."""
    source = Source(kind="mastodon", name="masto", config={}, cursor={})
    outage, pricing = Topic(name="outage"), Topic(name="pricing")
    bram = Author(platform="mastodon", platform_id="bram", handle="@bram", followers=50_000)
    anna = Author(platform="mastodon", platform_id="anna", handle="@anna", followers=900)
    session.add_all([source, outage, pricing, bram, anna])
    await session.flush()
    rows: list[dict[str, Any]] = []
    topical: list[int] = []
    start = SPIKE_HOUR - timedelta(hours=24)
    for hour in range(27):
        at = start + timedelta(hours=hour)
        for i in range(BACKGROUND_PER_HOUR):
            rows.append(_row(source.id, f"bg-{hour}-{i}", at + timedelta(minutes=i), "Fietsbaan"))
    for hour, count in ((24, 15), (25, 15), (5, 1), (17, 1)):
        at = start + timedelta(hours=hour)
        for i in range(count):
            topical.append(len(rows))
            rows.append(
                _row(
                    source.id,
                    f"spike-{hour}-{i}",
                    at + timedelta(minutes=2 * i + 1),
                    SPIKE_TEXTS[i % 3],
                    author_id=(bram if i % 3 else anna).id,
                    sentiment_label="negative",
                    likes=i,
                )
            )
    ids = (await session.execute(insert(Mention).returning(Mention.id), rows)).scalars().all()
    await session.execute(
        insert(MentionTopic), [{"mention_id": ids[i], "topic_id": outage.id} for i in topical]
    )
    await session.execute(insert(QueueItem), [{"mention_id": i} for i in ids])


def _row(source_id: int, key: str, at: datetime, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "external_id": key,
        "platform": "mastodon",
        "text": text,
        "created_at": at,
        "fingerprint": key,
        "intents": [],
        **extra,
    }


async def test_a_spike_raises_exactly_one_alert_naming_the_topic(
    sessions: async_sessionmaker[AsyncSession], alert_settings: Settings
) -> None:
    async with sessions() as session, session.begin():
        await _spiky_history(session)

    first = await check_spikes(
        sessions, settings=alert_settings, window_end=SPIKE_HOUR + timedelta(hours=1)
    )
    again = await check_spikes(
        sessions, settings=alert_settings, window_end=SPIKE_HOUR + timedelta(hours=1)
    )
    next_hour = await check_spikes(
        sessions, settings=alert_settings, window_end=SPIKE_HOUR + timedelta(hours=2)
    )

    assert [(a.metric, a.dimension, a.dimension_key) for a in first] == [
        ("volume", "topic", "outage")
    ]
    assert (again, next_hour) == ([], [])  # idempotent, then held back by the cooldown
    async with sessions() as session:
        [alert] = (await session.execute(select(Alert))).scalars().all()
        [event] = (await session.execute(select(IntegrationEvent))).scalars().all()
    assert (alert.count, alert.window_start) == (15, SPIKE_HOUR)
    assert alert.baseline == pytest.approx(2 / 24, abs=0.001)
    assert event.type == "alert.raised" and event.payload["key"] == "outage"


async def test_the_alert_names_its_drivers(
    sessions: async_sessionmaker[AsyncSession], alert_settings: Settings
) -> None:
    async with sessions() as session, session.begin():
        await _spiky_history(session)
    [alert] = await check_spikes(
        sessions, settings=alert_settings, window_end=SPIKE_HOUR + timedelta(hours=1)
    )
    drivers = alert.drivers
    assert drivers["terms"][0] == {"term": "docks kapot", "mentions": 15}
    assert [(a["author"], a["mentions"]) for a in drivers["authors"]] == [
        ("@bram", 10),
        ("@anna", 5),
    ]
    assert drivers["sources"] == [{"source": "masto", "mentions": 15}]
    assert len(drivers["examples"]) == 3
    assert drivers["examples"][0]["engagement"] == 14  # the most liked first


async def test_alert_emails_go_to_lists_that_follow_the_topic(
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    smtp = alert_settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
    )
    async with sessions() as session, session.begin():
        await _spiky_history(session)
        await session.execute(
            update(Topic).where(Topic.name == "outage").values(labels={"nl": "Storingen"})
        )
        for name, values in (
            ("ops", {"topics": ["outage"], "language": "nl"}),
            ("pricing", {"topics": ["pricing"]}),
            ("no-alerts", {"receive_alerts": False}),
        ):
            await service.create_list(
                session,
                values={"name": name, "emails": [f"{name}@fietsbaan.example"], **values},
                actor="test",
            )

    await check_spikes(sessions, settings=smtp, window_end=SPIKE_HOUR + timedelta(hours=1))
    report = await deliver_due(sessions, settings=smtp)

    assert len(report.sent) == 1
    [message] = inbox.messages
    assert message["To"] == "ops@fietsbaan.example"
    assert message["Subject"] == "Piek: volume voor onderwerp Storingen"  # its Dutch label
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and "docks kapot" in plain.get_content()
    async with sessions() as session:
        [delivery] = (await session.execute(select(Delivery))).scalars().all()
    assert delivery.alert_id is not None and delivery.status == "sent"


def test_a_small_count_never_alerts_however_unusual() -> None:
    rule = Rule(baseline_hours=24, min_count=10)
    assert volume_spike(GroupStats(count=9), rule) is None
    assert volume_spike(GroupStats(count=10), rule) is not None


def test_a_busy_topic_needs_to_double_and_stand_out_to_alert() -> None:
    rule = Rule(baseline_hours=24, min_count=10, z_threshold=3, min_ratio=2)
    steady = {h: 20 for h in range(24)}
    assert volume_spike(GroupStats(count=35, baseline_counts=steady), rule) is None  # 1.75 x
    assert volume_spike(GroupStats(count=45, baseline_counts=steady), rule) is not None


def test_a_jump_in_negative_share_alerts_on_enough_labelled_mentions() -> None:
    rule = Rule(baseline_hours=24, min_count=10, z_threshold=3)
    usual = {"baseline_negative": 20, "baseline_labelled": 200}  # 10 % negative
    spike = negative_share_spike(GroupStats(count=12, negative=8, labelled=12, **usual), rule)
    assert spike is not None and spike[0] == pytest.approx(8 / 12) and spike[1] == 0.1
    assert negative_share_spike(GroupStats(count=9, negative=8, labelled=9, **usual), rule) is None
    assert (
        negative_share_spike(GroupStats(count=12, negative=3, labelled=12, **usual), rule) is None
    )

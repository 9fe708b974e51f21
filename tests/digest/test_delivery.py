"""Digest emails reach a real SMTP server on loopback with their charts inline; failures retry."""

from __future__ import annotations

import datetime as dt

from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest.delivery import deliver_due
from listener.settings import Settings
from tests.digest.conftest import Inbox, free_port
from tests.digest.data import History
from tests.digest.helpers import deliveries_by_recipient, queue_week, smtp_settings


async def test_the_digest_email_arrives_with_its_charts_inline(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    settings = smtp_settings(settings, port)
    await queue_week(sessions, settings)

    report = await deliver_due(sessions, settings=settings)

    assert len(report.sent) == 2
    message = inbox.to("anna@fietsbaan.example")[0]
    assert message["Subject"] == "Listening digest 2026-W47"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None and "10 mentions" in plain.get_content()
    related = message.get_body(preferencelist=("related",))
    assert related is not None
    html = related.get_body(preferencelist=("html",))
    assert html is not None
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    for image in images:
        assert image.get_content().startswith(b"\x89PNG")
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in html.get_content()
    sent = await deliveries_by_recipient(sessions)
    assert {d.status for d in sent.values()} == {"sent"}
    assert sent["bram@fietsbaan.example"].attempts == 1


async def test_an_unreachable_server_is_retried_until_it_answers(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, history: History
) -> None:
    port = free_port()
    settings = smtp_settings(settings, port)
    await queue_week(sessions, settings, emails=["anna@fietsbaan.example"])

    first = await deliver_due(sessions, settings=settings)
    waiting = (await deliveries_by_recipient(sessions))["anna@fietsbaan.example"]
    assert len(first.retrying) == 1
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error and "Connection" in waiting.last_error
    assert await deliver_due(sessions, settings=settings) == type(first)()  # not due yet

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        later = waiting.next_attempt_at + dt.timedelta(seconds=1)
        second = await deliver_due(sessions, settings=settings, now=later)
    finally:
        controller.stop()
    delivered = (await deliveries_by_recipient(sessions))["anna@fietsbaan.example"]
    assert len(second.sent) == 1 and len(inbox.messages) == 1
    assert (delivered.status, delivered.attempts, delivered.last_error) == ("sent", 2, None)

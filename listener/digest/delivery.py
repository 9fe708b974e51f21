"""Delivery rows: one per email, sent by whoever holds its lease, retried with backoff.

The table is the truth: a job that dies mid-send leaves a lease that expires, and the next run
picks the row up again. A message the SMTP server accepted is marked sent in the same
transaction that releases the lease, so a crash between the two can at worst repeat one email
(at least once, as arq itself delivers).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import audit
from listener.digest.alert_mail import alert_email
from listener.digest.document import DigestDocument
from listener.digest.mail import SendError, digest_message, send_message
from listener.models import Delivery, DeliveryStatus, Digest, utcnow
from listener.settings import Settings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
_FIRST_RETRY = timedelta(minutes=1)
_LONGEST_WAIT = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 1 min, 4 min, 16 min, … capped at 6 h."""
    factor: int = 4 ** max(attempts - 1, 0)
    return min(_FIRST_RETRY * factor, _LONGEST_WAIT)


async def queue_deliveries(
    session: AsyncSession,
    *,
    recipients: Sequence[str],
    language: str,
    recipient_list_id: int | None,
    digest_id: int | None = None,
    alert_id: int | None = None,
) -> int:
    """One pending delivery per address not yet queued for this digest or alert; return how many."""
    if not recipients:
        return 0
    subject = "digest_id" if digest_id is not None else "alert_id"
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Delivery).on_conflict_do_nothing(index_elements=[subject, "recipient"])
    now = utcnow()
    rows = [
        {
            "digest_id": digest_id,
            "alert_id": alert_id,
            "recipient_list_id": recipient_list_id,
            "recipient": address,
            "language": language,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for address in dict.fromkeys(recipients)
    ]
    result = await session.execute(stmt.returning(Delivery.id), rows)
    return len(result.scalars().all())


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


class _Composer:
    """Builds each message; charts are rendered once per digest and language, not per address."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._charts: dict[tuple[int, str], dict[str, bytes]] = {}

    async def compose(self, session: AsyncSession, delivery: Delivery) -> EmailMessage:
        if delivery.digest_id is not None:
            digest = await session.get(Digest, delivery.digest_id)
            assert digest is not None  # the delivery row cascades with its digest
            key = (digest.id, delivery.language)
            document = DigestDocument.model_validate(digest.data)
            if key not in self._charts:
                from listener.digest.charts import digest_charts

                self._charts[key] = await asyncio.to_thread(
                    digest_charts, document, delivery.language
                )
            return digest_message(
                self.settings,
                data=document,
                language=delivery.language,
                to=delivery.recipient,
                charts=self._charts[key],
            )
        assert delivery.alert_id is not None
        return await alert_email(
            session, settings=self.settings, alert_id=delivery.alert_id, delivery=delivery
        )


async def _claim(session: AsyncSession, delivery_id: int, now: datetime) -> Delivery | None:
    claimed = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == DeliveryStatus.PENDING.value,
            or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
        )
        .values(lease_until=now + LEASE, attempts=Delivery.attempts + 1, updated_at=now)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.scalar_one_or_none() is None:
        return None
    return await session.get(Delivery, delivery_id, populate_existing=True)


async def _settle(
    session: AsyncSession,
    delivery: Delivery,
    *,
    settings: Settings,
    error: SendError | None,
    message_id: str | None,
    report: DeliveryReport,
) -> None:
    now = utcnow()
    delivery.lease_until = None
    if error is None:
        delivery.status = DeliveryStatus.SENT.value
        delivery.sent_at = now
        delivery.message_id = message_id
        delivery.last_error = None
        report.sent.append(delivery.id)
        audit.record(
            session,
            entity="delivery",
            entity_id=delivery.id,
            action="sent",
            after={"recipient": delivery.recipient, "attempts": delivery.attempts},
        )
        return
    delivery.last_error = str(error)[:2000]
    if error.permanent or delivery.attempts >= settings.delivery_max_attempts:
        delivery.status = DeliveryStatus.FAILED.value
        report.failed.append(delivery.id)
        audit.record(
            session,
            entity="delivery",
            entity_id=delivery.id,
            action="failed",
            after={
                "recipient": delivery.recipient,
                "attempts": delivery.attempts,
                "error": str(error),
            },
        )
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        report.retrying.append(delivery.id)


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    settings: Settings,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryReport:
    """Send every pending delivery whose time has come; failures wait for their next attempt."""
    report = DeliveryReport()
    if not settings.smtp_host:
        return report
    now = now or utcnow()
    async with sessions() as session:
        due = (
            (
                await session.execute(
                    select(Delivery.id)
                    .where(
                        Delivery.status == DeliveryStatus.PENDING.value,
                        Delivery.next_attempt_at <= now,
                        or_(Delivery.lease_until.is_(None), Delivery.lease_until < now),
                    )
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    composer = _Composer(settings)
    for delivery_id in due:
        async with sessions() as session, session.begin():
            claimed = await _claim(session, delivery_id, utcnow())
        if claimed is None:
            continue  # another sender holds it, or it was settled meanwhile
        error: SendError | None = None
        message_id = None
        try:
            async with sessions() as session:
                message = await composer.compose(session, claimed)
            message_id = message["Message-ID"]
        except Exception as exc:  # a broken digest must not stop the other deliveries
            log.exception("composing delivery %s failed", delivery_id)
            error = SendError(f"could not compose the message: {exc}", permanent=True)
        else:
            try:
                await asyncio.to_thread(send_message, settings, message)
            except SendError as exc:
                error = exc
        async with sessions() as session, session.begin():
            delivery = await session.get(Delivery, delivery_id)
            assert delivery is not None
            await _settle(
                session,
                delivery,
                settings=settings,
                error=error,
                message_id=message_id,
                report=report,
            )
    return report

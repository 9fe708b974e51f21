"""The event log (what integrations hear about) and the webhook subscriptions that read it.

"The event log is the outbox": every change integrations care about writes one
`IntegrationEvent` in the same transaction as the change itself (`listener.events`). Webhooks,
the live stream and the desk read the log in id order; a subscription only keeps a cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId


class IntegrationEvent(Base):
    """Something integrations may want to hear about, written with the change that caused it.

    Ids grow monotonically; `mention_id` (when the event is about one mention) lets readers keep
    the order per mention. On PostgreSQL `created_at` is the database clock at insert time, which
    `listener.events.settled_before` relies on to read the log without skipping a row that a
    slower transaction commits later.
    """

    __tablename__ = "integration_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(100))
    mention_id: Mapped[int | None] = mapped_column(BigId, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookSubscription(Base):
    """An integration's URL, the events it wants, and how far delivery has come.

    Delivery is strictly in event-id order per subscription: `cursor` is the last event id
    delivered (or skipped as not wanted), committed after the receiver's 2xx. While the head event
    fails, `attempts`, `failing_since` and `next_attempt_at` say where the retries stand; a
    worker holds `lease_until` while it delivers, so two workers never deliver at once.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    filter: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Fernet tokens of `whsec_...` secrets; the previous one signs too until `previous_until`.
    secret_enc: Mapped[str] = mapped_column(Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_until: Mapped[datetime | None]
    cursor: Mapped[int] = mapped_column(BigId, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    lease_until: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One attempt to deliver one event to one subscription: the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
        Index("ix_webhook_deliveries_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    # No foreign key: the log outlives events dropped by retention.
    event_id: Mapped[int] = mapped_column(BigId)
    event_type: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""Weekly digests, who receives them, each email sent, spike alerts and events for integrations."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId


class DeliveryStatus(enum.StrEnum):
    """Where one email stands: waiting (perhaps for a retry), sent, or given up."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


_DELIVERY_VALUES = ", ".join(f"'{s.value}'" for s in DeliveryStatus)


class RecipientList(Base):
    """People who receive the digest (and, if they want, spike alerts), with what they follow."""

    __tablename__ = "recipient_lists"
    __table_args__ = (CheckConstraint("language IN ('en', 'nl')", name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Empty lists mean "everything"; names are matched against topic and source names.
    topics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    sources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # A query (docs/QUERY.md) the mentions must match as well; None means no query.
    query: Mapped[str | None] = mapped_column(Text)
    send_when_quiet: Mapped[bool] = mapped_column(Boolean, default=False)
    receive_alerts: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Digest(Base):
    """One built digest; `key` makes building idempotent (one per list and period)."""

    __tablename__ = "digests"
    __table_args__ = (Index("ix_digests_period_start", "period_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("recipient_lists.id", ondelete="SET NULL"), index=True
    )
    period_label: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mention_count: Mapped[int] = mapped_column(Integer, default=0)
    quiet: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why no email went out for this digest (quiet week, no SMTP, no recipients), if none did.
    skipped_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Rebuilt because mentions of its period arrived after it was first built (late data).
    revised_at: Mapped[datetime | None]
    late_mentions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Alert(Base):
    """A spike in volume or negative share for one topic or source in one hour."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("metric", "dimension", "dimension_key", "window_start"),
        Index("ix_alerts_window_end", "window_end"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32))
    dimension: Mapped[str] = mapped_column(String(16))
    dimension_key: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    observed: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    z_score: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer)
    drivers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One email of a digest or an alert to one address, with its attempts and last error."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN ({_DELIVERY_VALUES})", name="status"),
        CheckConstraint("(digest_id IS NULL) <> (alert_id IS NULL)", name="one_subject"),
        UniqueConstraint("digest_id", "recipient"),
        UniqueConstraint("alert_id", "recipient"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), index=True
    )
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    recipient_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("recipient_lists.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(8), default="en")
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A sender holds the row while it talks to the SMTP server; an expired lease means it died.
    lease_until: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

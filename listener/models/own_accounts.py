"""Our own accounts: the organisation's voice on each platform, and checkpoints of late data."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, utcnow


class OwnAccount(Base):
    """An account that speaks for us: its posts are our responses, never incoming mentions.

    Matched against authors by platform and either the platform's id or the handle (compared
    without a leading '@' and case-insensitively; a Fediverse handle without an instance
    matches the same name on any instance of that platform).
    """

    __tablename__ = "own_accounts"
    __table_args__ = (UniqueConstraint("platform", "handle", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32), index=True)
    handle: Mapped[str | None] = mapped_column(String(512))
    platform_id: Mapped[str | None] = mapped_column(String(512))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Checkpoint(Base):
    """How far a periodic computation has looked (e.g. the alert check's last fetched_at)."""

    __tablename__ = "checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime]

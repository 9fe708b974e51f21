"""Where mentions come from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, utcnow


class Source(Base):
    """A feed, search or community that Luister polls (or the name an import files under)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    next_poll_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # A worker holds the source while it polls; an expired lease means the worker died.
    poll_lease_until: Mapped[datetime | None]
    total_polls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A query (listener.query): a poll stores only the items it matches; None keeps everything.
    keep_query: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

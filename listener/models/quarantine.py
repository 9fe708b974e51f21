"""Items that could not be ingested, kept with the reason so nothing is silently lost."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, utcnow
from listener.models.mentions import BigId


class QuarantinedItem(Base):
    """One rejected item: its payload as received and why it was refused."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sources.id", ondelete="SET NULL"), index=True
    )
    stage: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(512))
    payload: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

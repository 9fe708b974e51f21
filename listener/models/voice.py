"""Share of voice: the subjects (our brand, competitors, product lines) compared, each a query."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, utcnow

SUBJECT_KINDS = ("brand", "competitor", "product")
_KIND_VALUES = ", ".join(f"'{kind}'" for kind in SUBJECT_KINDS)


class VoiceSubject(Base):
    """A subject of share of voice: a name and the query (listener.query) that selects it."""

    __tablename__ = "voice_subjects"
    __table_args__ = (CheckConstraint(f"kind IN ({_KIND_VALUES})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    query: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="competitor")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Legal holds on mentions, the evidence copies they keep, and who read that evidence.

A mention that disappears at its source is hidden and its words dropped, unless staff placed a
legal hold on it: then its last known content is kept once more as evidence, hashed, and every
read of that evidence is logged.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, utcnow
from listener.models.mentions import BigId


class LegalHold(Base):
    """Staff keep a mention's content as evidence should it disappear; active until lifted."""

    __tablename__ = "legal_holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    placed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    lifted_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    lifted_by: Mapped[str | None] = mapped_column(String(200))
    lift_reason: Mapped[str | None] = mapped_column(Text)


class MentionEvidence(Base):
    """A held mention's content as it was when it disappeared at the source.

    `payload` is canonical JSON (sorted keys, no spaces, UTF-8) and `sha256` its hash, so a copy
    can be checked byte for byte. Lifting the hold purges the payload; the hash stays.
    """

    __tablename__ = "mention_evidence"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), index=True
    )
    hold_id: Mapped[int | None] = mapped_column(
        ForeignKey("legal_holds.id", ondelete="SET NULL"), index=True
    )
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    purged_at: Mapped[datetime | None]


class EvidenceAccess(Base):
    """One read of evidence: who, when, why. Kept when the evidence itself is purged."""

    __tablename__ = "evidence_access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evidence_id: Mapped[int | None] = mapped_column(
        ForeignKey("mention_evidence.id", ondelete="SET NULL"), index=True
    )
    mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("mentions.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    accessed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

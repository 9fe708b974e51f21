"""Copies: mentions whose text other authors posted too, the evidence of copy-paste spam."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base
from listener.models.mentions import BigId


class SpamCopy(Base):
    """A mention carrying a link or a promotion, by the signature of its normalised text.

    Only such mentions get a row (so the table stays small); `reason` is set once the same
    text came from enough distinct authors to call it spam.
    """

    __tablename__ = "spam_copies"
    __table_args__ = (Index("ix_spam_copies_signature_created_at", "signature", "created_at"),)

    mention_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    signature: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int | None]
    created_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)

"""Personal data: what erasure leaves behind so an erased person is not collected again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, utcnow
from listener.models.mentions import BigId

#: What an erased author's `platform_id` and an erased mention's `external_id` start with
#: (moderation.privacy): such a mention is a tombstone, counted but holding nothing of anyone.
ERASED_PREFIX = "erased:"


class PrivacySuppression(Base):
    """A keyed hash (HMAC-SHA256 with the secret key) of an erased post or person.

    Only the hash is kept, never the platform id: ingest drops a post whose key is here, so a
    re-fetched copy of an erased post, or a new post by a person who asked to be erased, is
    not stored again (moderation.privacy.reactions).
    """

    __tablename__ = "privacy_suppressions"
    __table_args__ = (CheckConstraint("kind IN ('author', 'post')", name="kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""What staff taught the tagger (corrections) and the sentiment models trained from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow
from listener.models.mentions import BigId

CORRECTABLE_FIELDS = ("sentiment", "intents", "topics")
_FIELD_VALUES = ", ".join(f"'{name}'" for name in CORRECTABLE_FIELDS)


class NlpCorrection(Base):
    """A staff member's correction of one tagged field, next to what the model said then.

    Corrections are never edited: the latest one per mention and field is what the mention
    shows, and every one of them is training data.
    """

    __tablename__ = "nlp_corrections"
    __table_args__ = (
        CheckConstraint(f"field IN ({_FIELD_VALUES})", name="field"),
        Index("ix_nlp_corrections_mention_field", "mention_id", "field"),
        Index("ix_nlp_corrections_field_created", "field", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(16))
    # sentiment: {"label", "score"}; intents: [names]; topics: [topic names].
    model_value: Mapped[Any] = mapped_column(JSONType)
    value: Mapped[Any] = mapped_column(JSONType)
    model_version: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NlpModel(Base):
    """A trained sentiment classifier for one language, its held-out scores, and if it is used."""

    __tablename__ = "nlp_models"
    __table_args__ = (Index("ix_nlp_models_language_active", "language", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    train_size: Mapped[int] = mapped_column(Integer)
    heldout_size: Mapped[int] = mapped_column(Integer)
    macro_f1: Mapped[float] = mapped_column(Float)
    accuracy: Mapped[float] = mapped_column(Float)
    lexicon_macro_f1: Mapped[float] = mapped_column(Float)
    lexicon_accuracy: Mapped[float] = mapped_column(Float)
    # Full reports (confusion matrices, per-label F1) of the model, the lexicon and the model
    # that was active before, all on the same held-out corrections.
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]

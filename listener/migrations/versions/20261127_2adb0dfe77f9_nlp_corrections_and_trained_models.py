"""nlp corrections and trained models

Revision ID: 2adb0dfe77f9
Revises: 44970cb86fb9
Create Date: 2026-11-27 10:11:09.901487
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2adb0dfe77f9"
down_revision: str | None = "44970cb86fb9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "nlp_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("train_size", sa.Integer(), nullable=False),
        sa.Column("heldout_size", sa.Integer(), nullable=False),
        sa.Column("macro_f1", sa.Float(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=False),
        sa.Column("lexicon_macro_f1", sa.Float(), nullable=False),
        sa.Column("lexicon_accuracy", sa.Float(), nullable=False),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlp_models")),
        sa.UniqueConstraint("version", name=op.f("uq_nlp_models_version")),
    )
    op.create_index("ix_nlp_models_language_active", "nlp_models", ["language", "active"])

    op.create_table(
        "nlp_corrections",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("mention_id", BIG_ID, nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("model_value", JSON, nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "field IN ('sentiment', 'intents', 'topics')", name=op.f("ck_nlp_corrections_field")
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_nlp_corrections_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_nlp_corrections_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nlp_corrections")),
    )
    op.create_index("ix_nlp_corrections_field_created", "nlp_corrections", ["field", "created_at"])
    op.create_index("ix_nlp_corrections_mention_field", "nlp_corrections", ["mention_id", "field"])
    op.create_index(op.f("ix_nlp_corrections_user_id"), "nlp_corrections", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_nlp_corrections_user_id"), table_name="nlp_corrections")
    op.drop_index("ix_nlp_corrections_mention_field", table_name="nlp_corrections")
    op.drop_index("ix_nlp_corrections_field_created", table_name="nlp_corrections")
    op.drop_table("nlp_corrections")
    op.drop_index("ix_nlp_models_language_active", table_name="nlp_models")
    op.drop_table("nlp_models")

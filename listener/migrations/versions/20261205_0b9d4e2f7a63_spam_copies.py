"""spam_copies: signatures of link- or promotion-bearing mentions, for copy-paste spam

Revision ID: 0b9d4e2f7a63
Revises: f3a8c5d1e9b7
Create Date: 2026-12-05 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0b9d4e2f7a63"
down_revision: str | None = "f3a8c5d1e9b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spam_copies",
        sa.Column(
            "mention_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("signature", sa.String(length=40), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_spam_copies_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_spam_copies")),
    )
    op.create_index(
        "ix_spam_copies_signature_created_at",
        "spam_copies",
        ["signature", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_spam_copies_signature_created_at", table_name="spam_copies")
    op.drop_table("spam_copies")

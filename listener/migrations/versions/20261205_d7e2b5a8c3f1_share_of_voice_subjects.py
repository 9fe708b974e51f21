"""Share of voice: the subjects compared (our brand, competitors, product lines), each a query.

Revision ID: d7e2b5a8c3f1
Revises: c4f1a9e7b2d6
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d7e2b5a8c3f1"
down_revision = "c4f1a9e7b2d6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('brand', 'competitor', 'product')", name=op.f("ck_voice_subjects_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_subjects")),
        sa.UniqueConstraint("name", name=op.f("uq_voice_subjects_name")),
    )


def downgrade() -> None:
    op.drop_table("voice_subjects")

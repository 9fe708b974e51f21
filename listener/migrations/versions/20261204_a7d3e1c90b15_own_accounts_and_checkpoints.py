"""own accounts (our voice is not a mention to triage) and checkpoints for late data

Revision ID: a7d3e1c90b15
Revises: 2c1041d476b7
Create Date: 2026-12-04 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7d3e1c90b15"
down_revision: str | None = "2c1041d476b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "own_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("handle", sa.String(length=512), nullable=True),
        sa.Column("platform_id", sa.String(length=512), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_own_accounts")),
        sa.UniqueConstraint(
            "platform",
            "handle",
            "platform_id",
            name=op.f("uq_own_accounts_platform_handle_platform_id"),
        ),
    )
    op.create_index(op.f("ix_own_accounts_platform"), "own_accounts", ["platform"], unique=False)
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_checkpoints")),
    )
    op.add_column("authors", sa.Column("own_account_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_authors_own_account_id"), "authors", ["own_account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_authors_own_account_id"), table_name="authors")
    with op.batch_alter_table("authors") as batch:
        batch.drop_column("own_account_id")
    op.drop_table("checkpoints")
    op.drop_index(op.f("ix_own_accounts_platform"), table_name="own_accounts")
    op.drop_table("own_accounts")

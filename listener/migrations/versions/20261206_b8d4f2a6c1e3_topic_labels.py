"""topics.labels: the name people read, per language

Revision ID: b8d4f2a6c1e3
Revises: e6b1c8d2f4a7
Create Date: 2026-12-06 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b8d4f2a6c1e3"
down_revision: str | None = "e6b1c8d2f4a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("labels", json, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("topics", schema=None) as batch_op:
        batch_op.drop_column("labels")

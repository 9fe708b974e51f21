"""source poll lease

Revision ID: 3b3cc53db2b7
Revises: db6b22c34638
Create Date: 2026-11-27 09:34:24.638031
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b3cc53db2b7"
down_revision: str | None = "db6b22c34638"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("poll_lease_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("total_polls", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("total_polls")
        batch_op.drop_column("poll_lease_until")

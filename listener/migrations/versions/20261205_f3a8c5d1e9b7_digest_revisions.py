"""digests.revised_at and late_mentions: weekly digests rebuilt when late mentions arrive

Revision ID: f3a8c5d1e9b7
Revises: 97cb6698d246
Create Date: 2026-12-05 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f3a8c5d1e9b7"
# A branch of its own: the project upgrades to all heads.
down_revision: str | None = "97cb6698d246"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revised_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("late_mentions", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_column("late_mentions")
        batch_op.drop_column("revised_at")

"""recipient_lists.query: a query (docs/QUERY.md) a list's mentions must match as well

Revision ID: a5c9e3f1d7b4
Revises: 0b9d4e2f7a63
Create Date: 2026-12-05 02:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a5c9e3f1d7b4"
# After the newest revision on the digests branch, so the branch keeps a single head.
down_revision: str | None = "0b9d4e2f7a63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recipient_lists", schema=None) as batch_op:
        batch_op.add_column(sa.Column("query", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipient_lists", schema=None) as batch_op:
        batch_op.drop_column("query")

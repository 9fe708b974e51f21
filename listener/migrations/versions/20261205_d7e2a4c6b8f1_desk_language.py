"""users.ui_language: the interface language each person chose at the desk

Revision ID: d7e2a4c6b8f1
Revises: 5e0c1f7a9b42
Create Date: 2026-12-05 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d7e2a4c6b8f1"
# A branch of its own: the project upgrades to all heads.
down_revision: str | None = "5e0c1f7a9b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ui_language", sa.String(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("ui_language")

"""dedupe platform-wide ids across sources

Revision ID: 44970cb86fb9
Revises: 3b3cc53db2b7
Create Date: 2026-11-27 09:46:56.362727
"""

from collections.abc import Sequence

from alembic import op

revision: str = "44970cb86fb9"
down_revision: str | None = "3b3cc53db2b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # external_id first: ingest looks up a batch of ids (IN list) within one platform, and the
    # leading column keeps that an index lookup whatever the planner's statistics say.
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mentions_external_id_platform", ["external_id", "platform"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_external_id_platform")

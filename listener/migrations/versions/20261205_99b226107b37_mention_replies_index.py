"""mentions: an index on the post a mention replies to (finding our earlier replies per batch)

Revision ID: 99b226107b37
Revises: a7d3e1c90b15
Create Date: 2026-12-05 02:40:00.000000

The own-voice reaction (moderation.queue.own) asks, for every ingested batch, which of our
posts reply to the batch's mentions. Without this index that meant reading every post of our
accounts (or every mention of the platform) on each batch. Partial: top-level posts (no
`reply_to_external_id`) are left out of it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "99b226107b37"
down_revision: str | None = "a7d3e1c90b15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_mentions_reply_to_external_id_platform",
        "mentions",
        ["reply_to_external_id", "platform"],
        unique=False,
        sqlite_where=sa.text("reply_to_external_id IS NOT NULL"),
        postgresql_where=sa.text("reply_to_external_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_mentions_reply_to_external_id_platform", table_name="mentions")

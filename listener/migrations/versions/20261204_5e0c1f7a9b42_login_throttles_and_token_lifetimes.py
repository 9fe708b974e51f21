"""login throttles, login token lifetimes, and repair of nulls saved by PATCH

Revision ID: 5e0c1f7a9b42
Revises: 97cb6698d246
Create Date: 2026-12-04 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0c1f7a9b42"
down_revision: str | None = "97cb6698d246"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A PATCH with `null` used to save it into these required JSON columns, after which every read
# of the row failed; put the empty value back so those rows can be read (and fixed) again.
_REPAIRS = {
    "saved_views": {"filters": "{}"},
    "recipient_lists": {"emails": "[]", "topics": "[]", "sources": "[]", "languages": "[]"},
}


def upgrade() -> None:
    op.create_table(
        "login_throttles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('account', 'address')", name=op.f("ck_login_throttles_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttles")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_login_throttles_kind_key")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttles_last_attempt_at"), ["last_attempt_at"], unique=False
        )

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_expires_at", sa.DateTime(timezone=True), nullable=True))

    for table, columns in _REPAIRS.items():
        for column, empty in columns.items():
            op.execute(
                f"UPDATE {table} SET {column} = '{empty}' "
                f"WHERE {column} IS NULL OR CAST({column} AS TEXT) = 'null'"
            )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("max_expires_at")

    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttles_last_attempt_at"))

    op.drop_table("login_throttles")

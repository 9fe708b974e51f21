"""deletions at the source, legal holds, evidence and its access log

Revision ID: daf487f2eb3a
Revises: 97cb6698d246
Create Date: 2026-12-04 18:42:37.648255
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "daf487f2eb3a"
down_revision: str | None = "97cb6698d246"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MENTION_COLUMNS = ("source_checked_at", "deleted_at_source")


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", _ID, nullable=False),
        sa.Column("mention_id", _ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_user_id", sa.Integer(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lifted_by_user_id"],
            ["users.id"],
            name=op.f("fk_legal_holds_lifted_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_legal_holds_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["placed_by_user_id"],
            ["users.id"],
            name=op.f("fk_legal_holds_placed_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(op.f("ix_legal_holds_mention_id"), "legal_holds", ["mention_id"])

    op.create_table(
        "mention_evidence",
        sa.Column("id", _ID, nullable=False),
        sa.Column("mention_id", _ID, nullable=False),
        sa.Column("hold_id", _ID, nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hold_id"],
            ["legal_holds.id"],
            name=op.f("fk_mention_evidence_hold_id_legal_holds"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_mention_evidence_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mention_evidence")),
    )
    op.create_index(op.f("ix_mention_evidence_hold_id"), "mention_evidence", ["hold_id"])
    op.create_index(op.f("ix_mention_evidence_mention_id"), "mention_evidence", ["mention_id"])

    op.create_table(
        "evidence_access_log",
        sa.Column("id", _ID, nullable=False),
        sa.Column("evidence_id", _ID, nullable=True),
        sa.Column("mention_id", _ID, nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["mention_evidence.id"],
            name=op.f("fk_evidence_access_log_evidence_id_mention_evidence"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_evidence_access_log_mention_id_mentions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_evidence_access_log_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_access_log")),
    )
    for column in ("accessed_at", "evidence_id", "mention_id"):
        op.create_index(op.f(f"ix_evidence_access_log_{column}"), "evidence_access_log", [column])

    # Plain ALTER TABLE, never batch mode: recreating `mentions` on SQLite would drop the
    # full-text triggers (see the triage migration).
    for column in _MENTION_COLUMNS:
        op.add_column("mentions", sa.Column(column, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in reversed(_MENTION_COLUMNS):
        op.drop_column("mentions", column)  # SQLite 3.35+ drops a plain column in place
    for column in ("mention_id", "evidence_id", "accessed_at"):
        op.drop_index(op.f(f"ix_evidence_access_log_{column}"), table_name="evidence_access_log")
    op.drop_table("evidence_access_log")
    op.drop_index(op.f("ix_mention_evidence_mention_id"), table_name="mention_evidence")
    op.drop_index(op.f("ix_mention_evidence_hold_id"), table_name="mention_evidence")
    op.drop_table("mention_evidence")
    op.drop_index(op.f("ix_legal_holds_mention_id"), table_name="legal_holds")
    op.drop_table("legal_holds")

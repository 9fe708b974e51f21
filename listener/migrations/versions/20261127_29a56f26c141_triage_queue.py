"""triage: priority, SLA, claims, snooze, tags, views, bulk jobs, author links, presence, search

Revision ID: 29a56f26c141
Revises: 2adb0dfe77f9
Create Date: 2026-11-27 09:55:20.940430
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "29a56f26c141"
down_revision: str | None = "2adb0dfe77f9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Full-text search, made by hand because the ORM has no words for it (see
# listener.models.triage.UNMANAGED_SCHEMA_NAMES). PostgreSQL: a stored tsvector of the text in
# the mention's own language configuration, with a GIN index; stored rather than an expression
# index so that ranking does not re-parse every matching text. SQLite: an external-content FTS5
# table kept in sync by triggers. Caution: a later batch migration that recreates `mentions` on
# SQLite drops these triggers with the old table and must recreate them
# (tests/moderation/test_search.py notices).
PG_SEARCH = (
    "ALTER TABLE mentions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (to_tsvector("
    "CASE split_part(language, '-', 1) WHEN 'en' THEN 'english'::regconfig "
    "WHEN 'nl' THEN 'dutch'::regconfig ELSE 'simple'::regconfig END, text)) STORED",
    "CREATE INDEX ix_mentions_search ON mentions USING gin (search_vector)",
)
SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE mentions_fts USING fts5(text, content='mentions', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER mentions_fts_insert AFTER INSERT ON mentions BEGIN "
    "INSERT INTO mentions_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER mentions_fts_delete AFTER DELETE ON mentions BEGIN "
    "INSERT INTO mentions_fts(mentions_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "END",
    "CREATE TRIGGER mentions_fts_update AFTER UPDATE OF text ON mentions BEGIN "
    "INSERT INTO mentions_fts(mentions_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO mentions_fts(rowid, text) VALUES (new.id, new.text); END",
)


def upgrade() -> None:
    op.create_table(
        "author_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "linked_author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("author_id < linked_author_id", name=op.f("ck_author_links_ordered")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_author_links_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_author_links_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["linked_author_id"],
            ["authors.id"],
            name=op.f("fk_author_links_linked_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_author_links")),
        sa.UniqueConstraint(
            "author_id", "linked_author_id", name=op.f("uq_author_links_author_id_linked_author_id")
        ),
    )
    with op.batch_alter_table("author_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_author_links_linked_author_id"), ["linked_author_id"], unique=False
        )

    op.create_table(
        "author_notes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_author_notes_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_author_notes_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_author_notes")),
    )
    with op.batch_alter_table("author_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_author_notes_author_id"), ["author_id"], unique=False)

    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "selection",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_by_label", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "undo_of_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("undo_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_bulk_jobs_state")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_bulk_jobs_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["undo_of_id"],
            ["bulk_jobs.id"],
            name=op.f("fk_bulk_jobs_undo_of_id_bulk_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_jobs")),
        sa.UniqueConstraint("undo_of_id", name=op.f("uq_bulk_jobs_undo_of_id")),
    )
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_jobs_state"), ["state"], unique=False)

    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "filters",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sort", sa.String(length=16), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_views_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_views_owner_id_name")),
    )
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_views_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_tags_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "bulk_job_items",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "mention_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "before",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("after_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["bulk_jobs.id"],
            name=op.f("fk_bulk_job_items_job_id_bulk_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_bulk_job_items_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "mention_id", name=op.f("pk_bulk_job_items")),
    )
    with op.batch_alter_table("bulk_job_items", schema=None) as batch_op:
        batch_op.create_index("ix_bulk_job_items_job_state", ["job_id", "state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bulk_job_items_mention_id"), ["mention_id"], unique=False
        )

    op.create_table(
        "mention_tags",
        sa.Column(
            "mention_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["users.id"],
            name=op.f("fk_mention_tags_added_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_mention_tags_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_mention_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("mention_id", "tag_id", name=op.f("pk_mention_tags")),
    )
    with op.batch_alter_table("mention_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mention_tags_tag_id"), ["tag_id"], unique=False)

    op.create_table(
        "presence",
        sa.Column(
            "mention_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_presence_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_presence_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("mention_id", "user_id", name=op.f("pk_presence")),
    )
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_presence_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "note_mentions",
        sa.Column("note_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["notes.id"],
            name=op.f("fk_note_mentions_note_id_notes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_note_mentions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("note_id", "user_id", name=op.f("pk_note_mentions")),
    )
    with op.batch_alter_table("note_mentions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_mentions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "priority_explain",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("priority_computed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("sla_band", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("sla_outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "snooze_until_author", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("claimed_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_queue_items_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_queue_items_priority_computed_at"),
            ["priority_computed_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_queue_items_priority_mention", ["priority", "mention_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_queue_items_snoozed_until"), ["snoozed_until"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_queue_items_claimed_by_users"),
            "users",
            ["claimed_by"],
            ["id"],
            ondelete="SET NULL",
        )

    # Items queued before this migration start their SLA clock when their status last changed.
    op.execute("UPDATE queue_items SET received_at = status_changed_at")
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.alter_column(
            "received_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_SEARCH:
            op.execute(statement)
    else:
        for statement in SQLITE_SEARCH:
            op.execute(statement)
        op.execute("INSERT INTO mentions_fts(mentions_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_mentions_search")
        op.execute("ALTER TABLE mentions DROP COLUMN IF EXISTS search_vector")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS mentions_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS mentions_fts")
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_queue_items_claimed_by_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_queue_items_snoozed_until"))
        batch_op.drop_index("ix_queue_items_priority_mention")
        batch_op.drop_index(batch_op.f("ix_queue_items_priority_computed_at"))
        batch_op.drop_index(batch_op.f("ix_queue_items_due_at"))
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("snooze_until_author")
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("sla_outcome")
        batch_op.drop_column("first_response_at")
        batch_op.drop_column("due_at")
        batch_op.drop_column("sla_band")
        batch_op.drop_column("priority_computed_at")
        batch_op.drop_column("priority_explain")
        batch_op.drop_column("received_at")

    with op.batch_alter_table("note_mentions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_mentions_user_id"))

    op.drop_table("note_mentions")
    with op.batch_alter_table("presence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_presence_seen_at"))

    op.drop_table("presence")
    with op.batch_alter_table("mention_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mention_tags_tag_id"))

    op.drop_table("mention_tags")
    with op.batch_alter_table("bulk_job_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_job_items_mention_id"))
        batch_op.drop_index("ix_bulk_job_items_job_state")

    op.drop_table("bulk_job_items")
    op.drop_table("tags")
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_views_owner_id"))

    op.drop_table("saved_views")
    with op.batch_alter_table("bulk_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_jobs_state"))

    op.drop_table("bulk_jobs")
    with op.batch_alter_table("author_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_author_notes_author_id"))

    op.drop_table("author_notes")
    with op.batch_alter_table("author_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_author_links_linked_author_id"))

    op.drop_table("author_links")

"""The query language: each mention's folded words, and a source's keep-filter.

`mentions.folded_text` holds the text's case- and accent-folded words (listener.kit.folding),
which the query language matches the same way on PostgreSQL and SQLite. It is computed in
Python (on insert, and by ingest when a text changes) and backfilled here. Wherever a text is
emptied (erasure, deletion at the source) a trigger empties the folded words with it, so no
word outlives its text. `sources.keep_query` is a source's keep-filter.

Revision ID: c4f1a9e7b2d6
Revises: b8e2d4f6a1c3
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from listener.kit.folding import folded_text

revision = "c4f1a9e7b2d6"
# A branch of its own: the project upgrades to all heads.
down_revision = "b8e2d4f6a1c3"
branch_labels = None
depends_on = None

_BATCH = 2_000

SQLITE_TRIGGER = (
    "CREATE TRIGGER mentions_folded_clear AFTER UPDATE OF text ON mentions "
    "WHEN new.text = '' AND new.folded_text <> '' BEGIN "
    "UPDATE mentions SET folded_text = '' WHERE id = new.id; END"
)
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION mentions_folded_clear() RETURNS trigger AS $$ "
    "BEGIN IF NEW.text = '' THEN NEW.folded_text := ''; END IF; RETURN NEW; END "
    "$$ LANGUAGE plpgsql"
)
PG_TRIGGER = (
    "CREATE TRIGGER mentions_folded_clear BEFORE UPDATE OF text ON mentions "
    "FOR EACH ROW EXECUTE FUNCTION mentions_folded_clear()"
)


def _backfill() -> None:
    bind = op.get_bind()
    mentions = sa.table(
        "mentions", sa.column("id", sa.Integer), sa.column("text"), sa.column("folded_text")
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(mentions.c.id, mentions.c.text)
            .where(mentions.c.id > last)
            .order_by(mentions.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            sa.update(mentions)
            .where(mentions.c.id == sa.bindparam("mid"))
            .values(folded_text=sa.bindparam("folded")),
            [{"mid": row.id, "folded": folded_text(row.text)} for row in rows],
        )
        last = rows[-1].id


def upgrade() -> None:
    with op.batch_alter_table("mentions") as batch_op:
        batch_op.add_column(sa.Column("folded_text", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("sources") as batch_op:
        batch_op.add_column(sa.Column("keep_query", sa.Text(), nullable=True))
    _backfill()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS mentions_folded_clear ON mentions")
        op.execute("DROP FUNCTION IF EXISTS mentions_folded_clear()")
    else:
        op.execute("DROP TRIGGER IF EXISTS mentions_folded_clear")
    # Plain ALTERs (SQLite 3.35+): a batch rebuild of mentions would drop its search triggers.
    op.execute("ALTER TABLE sources DROP COLUMN keep_query")
    op.execute("ALTER TABLE mentions DROP COLUMN folded_text")

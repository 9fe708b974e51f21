"""Stem SQLite's search index in English and Dutch, as PostgreSQL's text search configs do.

The FTS5 table held the text under the porter (English) stemmer only, so Dutch plurals never
matched ("storingen" found nothing where "storing" found 30). It now holds three columns: the
words as written, their Dutch stems and their English stems (a mention with a known language is
stemmed in that language only; one without, in both). The triggers compute the stems with the
`luister_stems` SQL function that `listener.db` registers on every SQLite connection.
PostgreSQL is untouched: its generated tsvector already stems per language.

Revision ID: b8e2d4f6a1c3
Revises: 5e0c1f7a9b42
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "b8e2d4f6a1c3"
down_revision = "5e0c1f7a9b42"
branch_labels = None
depends_on = None

_ROW = "new.id, new.text, luister_stems(new.text, new.language, 'nl'), " + (
    "luister_stems(new.text, new.language, 'en')"
)

STEMMED = (
    "CREATE VIRTUAL TABLE mentions_fts USING fts5(text, nl, en, "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER mentions_fts_insert AFTER INSERT ON mentions BEGIN "
    f"INSERT INTO mentions_fts(rowid, text, nl, en) VALUES ({_ROW}); END",
    "CREATE TRIGGER mentions_fts_delete AFTER DELETE ON mentions BEGIN "
    "DELETE FROM mentions_fts WHERE rowid = old.id; END",
    "CREATE TRIGGER mentions_fts_update AFTER UPDATE OF text, language ON mentions BEGIN "
    "DELETE FROM mentions_fts WHERE rowid = old.id; "
    f"INSERT INTO mentions_fts(rowid, text, nl, en) VALUES ({_ROW}); END",
    "INSERT INTO mentions_fts(rowid, text, nl, en) SELECT id, text, "
    "luister_stems(text, language, 'nl'), luister_stems(text, language, 'en') FROM mentions",
)

PORTER = (
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
    "INSERT INTO mentions_fts(mentions_fts) VALUES ('rebuild')",
)


def _replace(statements: tuple[str, ...]) -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS mentions_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS mentions_fts")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _replace(STEMMED)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _replace(PORTER)

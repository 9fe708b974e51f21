"""Full-text search over mentions: PostgreSQL text search or SQLite FTS5 behind one API.

PostgreSQL: each mention's text is kept as a tsvector in its own language's configuration
(english, dutch, else simple) in the generated column `search_vector`, GIN-indexed (migration
29a56f26c141). A query is parsed by `websearch_to_tsquery` (quotes, OR, -word) in all three
configurations and OR-ed, so the comparison value is one constant the index can answer, and
ranking reads the stored vectors instead of parsing every matching text again.

SQLite: an FTS5 table with the words as written and their Dutch and English Snowball stems
(the stemmers PostgreSQL's configs use), kept in sync by triggers (migration b8e2d4f6a1c3). The
same query syntax is translated to FTS5's: each word or phrase matches as written or as its stem
in either language (every word quoted, so user input is never syntax).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, bindparam, false, literal_column, select, table
from sqlalchemy.sql import column
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.elements import ColumnElement as Expr
from sqlalchemy.sql.functions import func

from listener.kit.stems import STEMMED_LANGUAGES, stems
from listener.models import Mention

PG_VECTOR = "mentions.search_vector"
PG_CONFIGS = ("english", "dutch", "simple")

_FTS = table("mentions_fts", column("rowid"), column("rank"))
_TERM = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORDS = re.compile(r"\w+")


def _quoted(text: str, *, prefix: bool = False) -> str | None:
    """The term as FTS5 reads it: the words as written, or their stems in either language."""
    # FTS5 reads a double-quoted string as a phrase of plain tokens: user text cannot be syntax.
    words = _WORDS.findall(text)
    if not words:
        return None
    star = "*" if prefix else ""
    forms = [" ".join(words).lower()]
    for language in STEMMED_LANGUAGES:
        stemmed = stems(text, language)
        if stemmed and stemmed not in forms:
            forms.append(stemmed)
    if len(forms) == 1:
        return f'"{forms[0]}"{star}'
    return "(" + " OR ".join(f'"{form}"{star}' for form in forms) + ")"


def fts5_query(text: str) -> str | None:
    """Translate web-search syntax (words, "phrases", -exclude, OR, prefix*) to FTS5."""
    alternatives: list[list[str]] = [[]]
    negatives: list[list[str]] = [[]]
    for match in _TERM.finditer(text):
        minus, phrase, word = match.groups()
        if word is not None and word == "OR":
            alternatives.append([])
            negatives.append([])
            continue
        raw = phrase if phrase is not None else word
        negative = bool(minus) or (word is not None and word.startswith("-") and len(word) > 1)
        if word is not None and word.startswith("-"):
            raw = word[1:]
        prefix = phrase is None and raw.endswith("*")
        term = _quoted(raw, prefix=prefix)
        if term is None:
            continue
        (negatives if negative else alternatives)[-1].append(term)
    parts = []
    for positive, negative in zip(alternatives, negatives, strict=True):
        if not positive:
            continue  # FTS5 cannot express "everything except": a lone -word is dropped
        clause = " AND ".join(positive)
        if negative:
            clause = f"({clause}) NOT ({' OR '.join(negative)})"
        parts.append(f"({clause})")
    return " OR ".join(parts) if parts else None


def _pg_query(text: str) -> Expr[object]:
    param: BindParameter[str] = bindparam("search_q", text)
    queries = [
        func.websearch_to_tsquery(literal_column(f"'{c}'::regconfig"), param) for c in PG_CONFIGS
    ]
    combined: Expr[object] = queries[0]
    for query in queries[1:]:
        combined = combined.op("||")(query)
    return combined


def match_condition(dialect: str, text: str) -> ColumnElement[bool]:
    """A WHERE clause: the mention's text matches the search."""
    if dialect == "postgresql":
        return literal_column(PG_VECTOR).op("@@")(_pg_query(text))
    query = fts5_query(text)
    if query is None:
        return false()
    matching = select(_FTS.c.rowid).where(
        literal_column("mentions_fts").op("MATCH")(bindparam("search_q", query))
    )
    return Mention.id.in_(matching)


def relevance(dialect: str, text: str) -> ColumnElement[float]:
    """A number that is larger for better matches (only meaningful with `match_condition`)."""
    if dialect == "postgresql":
        # ts_rank (word frequency, weighted) rather than ts_rank_cd (cover density): on 59,627
        # matches of a million mentions ranking took 465 ms with cover density and 175 ms
        # with ts_rank, of which 162 ms is reading the matching rows at all.
        return func.ts_rank(literal_column(PG_VECTOR), _pg_query(text))
    query = fts5_query(text) or '""'
    # FTS5's rank is bm25, where more negative is better.
    rank = (
        select(_FTS.c.rank)
        .where(
            literal_column("mentions_fts").op("MATCH")(bindparam("search_rank_q", query)),
            _FTS.c.rowid == Mention.id,
        )
        .scalar_subquery()
    )
    return -rank

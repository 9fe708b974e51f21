"""Full-text search over mentions: PostgreSQL text search or SQLite FTS5 behind one API.

PostgreSQL: each mention's text is kept as a tsvector in its own language's configuration
(english, dutch, else simple) in the generated column `search_vector`, GIN-indexed (migration
29a56f26c141). A query is parsed by `websearch_to_tsquery` (quotes, OR, -word) in all three
configurations and OR-ed, so the comparison value is one constant the index can answer, and
ranking reads the stored vectors instead of parsing every matching text again. With the `rum`
extension the index can be a RUM index instead (`luister db search-index rum`, `use_index`): it
answers the same matches and hands them out best first, so a relevance page reads only its own
rows, but every stored mention costs more to index (docs/OPERATIONS.md has the figures).

SQLite: an FTS5 table with the words as written and their Dutch and English Snowball stems
(the stemmers PostgreSQL's configs use), kept in sync by triggers (migration b8e2d4f6a1c3). The
same query syntax is translated to FTS5's: each word or phrase matches as written or as its stem
in either language (every word quoted, so user input is never syntax).
"""

from __future__ import annotations

import re
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Engine,
    Float,
    and_,
    bindparam,
    case,
    false,
    literal_column,
    or_,
    select,
    table,
)
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import column
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.elements import ColumnElement as Expr
from sqlalchemy.sql.functions import func

from listener.errors import LuisterError
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


def pg_query(text: str) -> Expr[object]:
    """The search as one tsquery: parsed in each configuration, each distinct parse OR-ed once.

    The text is written into the statement as an escaped literal (`literal_execute`), not sent
    as a parameter: PostgreSQL then folds the whole expression to one constant when it plans,
    so it plans with the words' real frequency (a rare word is looked up in the index instead
    of walking the newest mentions for it) and parses nothing again per ranked row. A generic
    plan of a parameter knew neither.
    """
    param: BindParameter[str] = bindparam("search_q", text, literal_execute=True)
    en, nl, simple = (
        func.websearch_to_tsquery(literal_column(f"'{c}'::regconfig"), param) for c in PG_CONFIGS
    )
    # The configurations often parse a search alike (names, "refund", "storing"), and each copy
    # in the OR is matched and ranked again: every distinct query goes in once.
    return case(
        (and_(en == nl, nl == simple), en),
        (en == nl, en.op("||")(simple)),
        (or_(nl == simple, en == simple), en.op("||")(nl)),
        else_=en.op("||")(nl).op("||")(simple),
    )


def match_condition(dialect: str, text: str) -> ColumnElement[bool]:
    """A WHERE clause: the mention's text matches the search."""
    if dialect == "postgresql":
        return literal_column(PG_VECTOR).op("@@")(pg_query(text))
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
        return func.ts_rank(literal_column(PG_VECTOR), pg_query(text))
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


# Per engine: whether its search index is RUM. The index's kind changes only by `use_index`
# (`luister db search-index`), so it is looked up once per process and database: a running
# server keeps ranking the way it began until it restarts, correctly either way.
_RANKS_IN_INDEX: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()
_INDEX_KIND = sql(
    "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
    "WHERE c.oid = to_regclass('ix_mentions_search')"
)
_RUM_AVAILABLE = sql("SELECT 1 FROM pg_available_extensions WHERE name = 'rum'")
INDEX_KINDS = ("gin", "rum")
_INDEX = "ix_mentions_search"
_INDEX_DEFINITIONS = {
    "gin": f"CREATE INDEX {_INDEX} ON mentions USING gin (search_vector)",
    "rum": f"CREATE INDEX {_INDEX} ON mentions USING rum (search_vector rum_tsvector_ops)",
}


class SearchIndexError(LuisterError):
    """The search index cannot be switched as asked."""

    title = "Search index unchanged"


async def index_kind(session: AsyncSession) -> str | None:
    """The PostgreSQL search index's access method (gin or rum), None when there is none."""
    kind = (await session.execute(_INDEX_KIND)).scalar()
    return str(kind) if kind is not None else None


async def rum_available(session: AsyncSession) -> bool:
    """Whether the PostgreSQL server offers the rum extension (installed or not)."""
    return (await session.execute(_RUM_AVAILABLE)).first() is not None


async def ranks_in_index(session: AsyncSession) -> bool:
    """Whether the search index returns matches in rank order (PostgreSQL's RUM index)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    engine = bind.engine
    known = _RANKS_IN_INDEX.get(engine)
    if known is None:
        known = await index_kind(session) == "rum"
        _RANKS_IN_INDEX[engine] = known
    return known


async def use_index(session: AsyncSession, kind: str) -> bool:
    """Rebuild PostgreSQL's search index as `kind` (gin or rum) in the session's transaction;
    False when it already is one. Writes to mentions wait while it builds; reads go on."""
    if session.get_bind().dialect.name != "postgresql":
        raise SearchIndexError("SQLite searches with FTS5: there is no index to choose")
    if kind not in INDEX_KINDS:
        raise SearchIndexError(f"kind: {kind!r} is not one of {', '.join(INDEX_KINDS)}")
    if await index_kind(session) == kind:
        return False
    if kind == "rum":
        if not await rum_available(session):
            raise SearchIndexError(
                "this PostgreSQL server has no rum extension: install it on the database "
                "server (Debian and Ubuntu: the postgresql-<major version>-rum package)"
            )
        try:
            async with session.begin_nested():
                await session.execute(sql("CREATE EXTENSION IF NOT EXISTS rum"))
        except DBAPIError as error:
            raise SearchIndexError(
                f"could not create the rum extension ({error.orig}): a superuser can run "
                "CREATE EXTENSION rum in this database, then try again"
            ) from error
    # Built under another name first: building takes a lock that lets reads go on, and the
    # swap, whose lock stops reads too, then takes a moment.
    building = f"{_INDEX}_next"
    await session.execute(sql(f"DROP INDEX IF EXISTS {building}"))
    await session.execute(sql(_INDEX_DEFINITIONS[kind].replace(_INDEX, building, 1)))
    await session.execute(sql(f"DROP INDEX IF EXISTS {_INDEX}"))
    await session.execute(sql(f"ALTER INDEX {building} RENAME TO {_INDEX}"))
    return True


def distance(text: str) -> ColumnElement[float]:
    """How far a mention is from the search, smaller for better matches (RUM's `<=>`, which
    the index answers in order; only with `match_condition` and `ranks_in_index`)."""
    return literal_column(PG_VECTOR).op("<=>", return_type=Float)(pg_query(text))

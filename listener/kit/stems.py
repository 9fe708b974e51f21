"""Word stems for full-text search on SQLite, the way PostgreSQL's text search configs stem.

PostgreSQL stems each mention in its own language's configuration (Snowball english or dutch).
SQLite's FTS5 knows only the English porter stemmer, so "storingen" never found "storing".
Here the same Snowball stemmers (the `snowballstemmer` package) stem a mention's words when it is
indexed and a query's words when it is searched; `listener.db` registers `luister_stems` as an SQL
function on every SQLite connection so the index triggers can call it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import snowballstemmer

_WORD = re.compile(r"\w+")

#: The languages with a stemmer, by their primary subtag.
STEMMED_LANGUAGES = {"en": "english", "nl": "dutch"}


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Any:
    return snowballstemmer.stemmer(STEMMED_LANGUAGES[language])


def words(text: str | None) -> list[str]:
    """The lower-cased words of `text`."""
    return [w.lower() for w in _WORD.findall(text or "")]


def stems(text: str | None, language: str) -> str:
    """The words of `text` stemmed for `language` ("en" or "nl"), space-separated, in order."""
    stemmed: list[str] = _stemmer(language).stemWords(words(text))
    return " ".join(stemmed)


def indexed_languages(language: str | None) -> tuple[str, ...]:
    """Which stemmers a mention in `language` is indexed with: its own, or all when unknown."""
    primary = (language or "").split("-", 1)[0].lower()
    if primary in STEMMED_LANGUAGES:
        return (primary,)
    return tuple(STEMMED_LANGUAGES)


def sqlite_stems(text: str | None, language: str | None, column: str) -> str:
    """The SQL function behind the SQLite index: stems of `text` for the index `column`."""
    if column not in indexed_languages(language):
        return ""
    return stems(text, column)

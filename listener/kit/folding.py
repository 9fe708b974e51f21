"""Case- and accent-folded words: the one normalisation the query language matches against.

A mention's text is folded once, in Python, when it is stored (the `folded_text` column) and a
query's words are folded by the same function, so PostgreSQL, SQLite and the in-memory matcher
compare exactly the same strings: no collation, `lower()` or unaccent table of either database
takes part. A word is a run of letters and digits (an underscore separates words); the folded
text is its words separated by single spaces, with a space before the first and after the last,
so "the word w" is the substring " w " and "a word starting with p" is " p".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+")
# Runs of non-ASCII characters: the only places a combining mark can be.
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@lru_cache(maxsize=1)
def _marks() -> dict[int, None]:
    """Every combining mark (all lie below U+1F000), to delete with str.translate."""
    return {i: None for i in range(0x1F000) if unicodedata.combining(chr(i))}


def _unmarked(run: re.Match[str]) -> str:
    return run.group().translate(_marks())


def fold(text: str) -> str:
    """`text` case-folded with its accents removed ("Fiëts" -> "fiets", "Straße" -> "strasse")."""
    if text.isascii():
        return text.lower()  # what the steps below make of ASCII, only faster
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # No combining mark is ASCII: translate only the non-ASCII runs.
    stripped = _NON_ASCII.sub(_unmarked, decomposed)
    # Case-folding again catches letters that only decomposition revealed (compatibility forms).
    return unicodedata.normalize("NFC", stripped.casefold())


def folded_words(text: str | None) -> list[str]:
    """The folded words of `text`, in order."""
    return _WORD.findall(fold(text or ""))


def folded_text(text: str | None) -> str:
    """What the `folded_text` column stores: " word word word " (empty for no words)."""
    found = folded_words(text)
    return f" {' '.join(found)} " if found else ""


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """`text` with A-Z lowered and nothing else changed (what SQLite's lower() does)."""
    return text.translate(_ASCII_LOWER)

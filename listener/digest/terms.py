"""Emergent terms: hashtags, words and two-word phrases that grew and are not in the taxonomy.

Counting terms needs tokenising, which SQLite cannot do in SQL. So both backends tokenise a
bounded, deterministic sample of each window in Python (at most SAMPLE_SIZE mentions, picked
by a hash of the id so the same data gives the same sample) and scale the counts to the
window's total. Below SAMPLE_SIZE mentions the counts are exact.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.document import EmergentTerm, EmergentTerms, SampleSize
from listener.digest.query import MentionFilter, within
from listener.models import Mention, Topic

SAMPLE_SIZE = 2000
TOP = 10
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_TOKEN = re.compile(r"[#@]?\w+(?:['’-]\w+)*", re.UNICODE)
# Knuth's multiplicative hash spreads consecutive ids over the sample order.
_HASH_MULTIPLIER = 2654435761
_HASH_MODULUS = 4294967291
_NOISE = frozenset({"rt", "via", "amp", "nbsp", "http", "https", "www", "com"})


def _spacy_stop_words(language: str) -> set[str]:
    """spaCy's stop-word list for `language`, read without importing spaCy itself.

    Importing spaCy takes seconds (it loads thinc and its registries); its stop-word modules
    are plain data, so they are executed on their own.
    """
    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.submodule_search_locations:
        return set()
    path = Path(next(iter(spec.submodule_search_locations))) / "lang" / language / "stop_words.py"
    module_spec = importlib.util.spec_from_file_location(f"_luister_stop_words_{language}", path)
    if module_spec is None or module_spec.loader is None:
        return set()
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return set(module.STOP_WORDS)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """English and Dutch stop words (spaCy's lists) plus social-media noise."""
    return frozenset(_spacy_stop_words("en") | _spacy_stop_words("nl") | _NOISE)


def mention_terms(text: str, stops: frozenset[str]) -> set[tuple[str, str]]:
    """The distinct (kind, term) pairs in one text: hashtag, word and phrase (two words)."""
    terms: set[tuple[str, str]] = set()
    previous: str | None = None
    for raw in _TOKEN.findall(_URL.sub(" ", text.lower())):
        if raw.startswith("@"):
            previous = None
            continue
        if raw.startswith("#"):
            if len(raw) > 2 and not raw[1:].isdigit():
                terms.add(("hashtag", raw))
            previous = None
            continue
        if len(raw) < 3 or raw in stops or not any(c.isalpha() for c in raw):
            previous = None
            continue
        terms.add(("word", raw))
        if previous is not None:
            terms.add(("phrase", f"{previous} {raw}"))
        previous = raw
    return terms


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


async def taxonomy_terms(session: AsyncSession) -> tuple[set[str], set[str]]:
    """Topic names and keywords, as whole phrases and as single words."""
    phrases: set[str] = set()
    for name, keywords in await session.execute(select(Topic.name, Topic.keywords)):
        for text in (name, *_strings(keywords)):
            phrases.add(" ".join(text.lower().split()))
    words = {w for phrase in phrases for w in re.split(r"[\s_-]+", phrase) if w}
    return phrases, words


def in_taxonomy(kind: str, term: str, phrases: set[str], words: set[str]) -> bool:
    """Whether a term is already one of the organisation's topics (so not emergent)."""
    if kind == "hashtag":
        return term[1:] in words or term[1:] in phrases
    if kind == "word":
        return term in words
    return term in phrases or all(part in words for part in term.split())


async def _sample(
    session: AsyncSession, start: datetime, end: datetime, filt: MentionFilter
) -> list[str]:
    spread = (Mention.id * _HASH_MULTIPLIER) % _HASH_MODULUS
    rows = await session.execute(
        select(Mention.text)
        .where(*within(start, end, filt))
        .order_by(spread, Mention.id)
        .limit(SAMPLE_SIZE)
    )
    return list(rows.scalars())


def _document_counts(texts: list[str]) -> Counter[tuple[str, str]]:
    stops = stop_words()
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        counts.update(mention_terms(text, stops))
    return counts


async def emergent_terms(
    session: AsyncSession,
    *,
    current: tuple[datetime, datetime, int],
    previous: tuple[datetime, datetime, int],
    filt: MentionFilter,
) -> EmergentTerms:
    """Terms whose share of mentions at least doubled against the previous window."""
    cur_start, cur_end, cur_total = current
    prev_start, prev_end, prev_total = previous
    cur_texts = await _sample(session, cur_start, cur_end, filt)
    prev_texts = await _sample(session, prev_start, prev_end, filt)
    phrases, words = await taxonomy_terms(session)
    cur_counts, prev_counts = _document_counts(cur_texts), _document_counts(prev_texts)
    n_cur, n_prev = len(cur_texts), len(prev_texts)
    min_mentions = max(3, n_cur // 200)
    found: list[tuple[EmergentTerm, float]] = []
    for (kind, term), df in cur_counts.items():
        if df < min_mentions or in_taxonomy(kind, term, phrases, words):
            continue
        rate = df / n_cur
        prev_rate = prev_counts[(kind, term)] / n_prev if n_prev else 0.0
        if rate < 2 * prev_rate:
            continue
        grown = EmergentTerm(
            term=term,
            kind=kind,
            count=round(rate * cur_total),
            previous=round(prev_rate * prev_total),
        )
        found.append((grown, (rate - prev_rate) * cur_total))
    found.sort(key=lambda pair: (-pair[1], pair[0].term))
    return EmergentTerms(
        terms=drop_covered_words([grown for grown, _ in found])[:TOP],
        sampled=n_cur < cur_total or n_prev < prev_total,
        sample_size=SampleSize(current=n_cur, previous=n_prev),
        min_mentions=min_mentions,
    )


def drop_covered_words(found: list[EmergentTerm]) -> list[EmergentTerm]:
    """Drop a word that mostly just repeats a grown phrase or hashtag containing it."""
    wider = [t for t in found if t.kind != "word"]

    def covered(word: EmergentTerm) -> bool:
        return any(
            word.term in t.term.lstrip("#").split() and t.count >= 0.7 * word.count for t in wider
        )

    return [t for t in found if t.kind != "word" or not covered(t)]

"""Finding bursts: which mentions belong together as one incident. Pure functions, no database.

A burst is a set of mentions linked to each other in three ways:

- **hot terms**: a word that many authors use at once, far more than they used it before. For a
  mention at time t, a term is hot when at least `min_term_authors` distinct authors used it
  within `window` of t, and that count is at least `min_lift` times what the term's rate in the
  `baseline` before would predict. Consecutive mentions using the same hot term (no more than
  `window` apart) are linked. Words are case- and accent-folded and stemmed in the mention's
  language (Snowball, English and Dutch), so "storingen" and "storing" are one term.
- **threads**: replies are linked to the post they answer and to the rest of its thread, so
  "Overvecht ook" under a post about the outage belongs to it.
- **near-duplicates**: texts whose word sets are at least `duplicate_threshold` alike by
  MinHash (locality-sensitive hashing with the `datasketch` library), within `window`.

A connected group qualifies as a new incident when it has at least `min_members` mentions that
can be triaged, from at least `min_authors` authors, of which at least `min_term_authors` carry
a hot term (a long thread alone is a conversation, not a burst).
"""

from __future__ import annotations

import math
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from listener.digest.terms import stop_words
from listener.kit.stems import STEMMED_LANGUAGES, stems, words

#: Reasons a mention joined, strongest first (a mention keeps the first that applies).
TERM, DUPLICATE, THREAD = "term", "duplicate", "thread"


@dataclass(frozen=True)
class DetectConfig:
    """The knobs of burst detection (see the module docstring)."""

    window: timedelta = timedelta(hours=6)
    baseline: timedelta = timedelta(days=14)
    #: Less history than this before a mention: too little to call any of its words unusual.
    min_history: timedelta = timedelta(days=2)
    min_term_authors: int = 4
    min_lift: float = 4.0
    min_members: int = 8
    min_authors: int = 5
    duplicate_threshold: float = 0.7
    #: Title terms must be used by this many distinct authors of the incident.
    title_min_authors: int = 3
    title_terms: int = 4


@dataclass(frozen=True)
class Post:
    """One mention as detection sees it."""

    id: int
    at: datetime
    author: str
    platform: str
    external_id: str
    thread: str | None
    reply_to: str | None
    language: str | None
    text: str
    #: Whether it can be an incident member (queued, not our own post).
    member: bool = True


@dataclass
class Burst:
    """A connected group of posts: its members (with why each joined) and its hot terms."""

    post_ids: list[int]
    reasons: dict[int, str] = field(default_factory=dict)
    hot_posts: int = 0


def fold(word: str) -> str:
    """Lower case without accents: "Geïrriteerd" and "geirriteerd" are one word."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def _stem(word: str, language: str) -> str:
    return stems(word, language)


def term_forms(text: str, language: str | None) -> dict[str, str]:
    """The distinct terms of a text: stem → the word as written (folded), stop words left out."""
    stops = stop_words()
    primary = (language or "").split("-", 1)[0].lower()
    found: dict[str, str] = {}
    for raw in words(_without_links(text)):
        word = fold(raw)
        if len(word) < 3 or word in stops or not any(c.isalpha() for c in word):
            continue
        if word.isdigit() or "_" in word:
            continue
        key = _stem(word, primary) if primary in STEMMED_LANGUAGES else word
        found.setdefault(key, word)
    return found


def _without_links(text: str) -> str:
    # Addresses and @handles say who and where, not what: leave them out of the terms.
    return " ".join(
        token
        for token in text.split()
        if not token.startswith(("http://", "https://", "@", "www."))
    )


class _Union:
    def __init__(self, ids: Iterable[int]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class _Index:
    """Per term: the posts using it, in time order."""

    times: dict[str, list[datetime]] = field(default_factory=dict)
    posts: dict[str, list[Post]] = field(default_factory=dict)


def _index(posts: Sequence[Post], terms: dict[int, dict[str, str]]) -> _Index:
    index = _Index()
    by_term: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        for key in terms[post.id]:
            by_term[key].append(post)
    for key, used in by_term.items():
        used.sort(key=lambda p: (p.at, p.id))
        index.posts[key] = used
        index.times[key] = [p.at for p in used]
    return index


def hot_terms(
    post: Post,
    keys: Iterable[str],
    index: _Index,
    config: DetectConfig,
    history_start: datetime,
) -> dict[str, float]:
    """The terms of `post` that are hot at its time, with their lift."""
    history = post.at - config.window - max(post.at - config.baseline, history_start)
    if history < config.min_history:
        return {}
    hot: dict[str, float] = {}
    for key in keys:
        times, used = index.times[key], index.posts[key]
        lo = bisect_left(times, post.at - config.window)
        hi = bisect_right(times, post.at + config.window)
        authors = len({p.author for p in used[lo:hi]})
        if authors < config.min_term_authors:
            continue
        before = lo - bisect_left(times, post.at - config.baseline)
        expected = before * (2 * config.window) / history
        lift = authors / max(expected, 1.0)
        if lift >= config.min_lift:
            hot[key] = lift
    return hot


def _shingles(keys: Iterable[str]) -> set[bytes]:
    return {key.encode() for key in keys}


def find_bursts(
    posts: Sequence[Post],
    *,
    scan_from: datetime,
    config: DetectConfig,
    history_start: datetime | None = None,
) -> tuple[list[Burst], dict[int, dict[str, str]]]:
    """Connected groups among `posts` at or after `scan_from` (earlier posts are history).

    Returns every group of two or more posts (qualified or not: the caller decides whether a
    group starts an incident or joins one) and the terms of every post.
    """
    terms = {p.id: term_forms(p.text, p.language) for p in posts}
    if not posts:
        return [], terms
    start = history_start or min(p.at for p in posts)
    index = _index(posts, terms)
    scanned = sorted((p for p in posts if p.at >= scan_from), key=lambda p: (p.at, p.id))
    union = _Union(p.id for p in scanned)
    reasons: dict[int, str] = {}
    hot_by_post = {p.id: hot_terms(p, terms[p.id], index, config, start) for p in scanned}

    # Hot terms: chain the posts that use the same hot term, no more than `window` apart.
    last_with: dict[str, Post] = {}
    for post in scanned:
        for key in hot_by_post[post.id]:
            previous = last_with.get(key)
            if previous is not None and post.at - previous.at <= config.window:
                union.join(previous.id, post.id)
                reasons[post.id] = reasons[previous.id] = TERM
            last_with[key] = post

    # Near-duplicates: MinHash LSH over the posts' term sets. Imported here: datasketch brings
    # numpy and scipy (~66 MiB), which a worker should pay for only when it detects.
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=config.duplicate_threshold, num_perm=64)
    at = {p.id: p.at for p in scanned}
    for post in scanned:
        keys = terms[post.id]
        if len(keys) < 4:
            continue
        sketch = MinHash(num_perm=64, seed=15)
        sketch.update_batch(list(_shingles(keys)))
        for other in lsh.query(sketch):
            other_id = int(other)
            if abs(post.at - at[other_id]) <= config.window:
                union.join(other_id, post.id)
                reasons.setdefault(post.id, DUPLICATE)
                reasons.setdefault(other_id, DUPLICATE)
        lsh.insert(str(post.id), sketch)

    # Threads: a reply belongs with what it answers and with the rest of its thread.
    roots: dict[tuple[str, str], int] = {}
    for post in scanned:
        for anchor_key in (post.external_id, post.reply_to, post.thread):
            if not anchor_key:
                continue
            anchor = roots.setdefault((post.platform, anchor_key), post.id)
            if anchor != post.id:
                union.join(anchor, post.id)
    groups: dict[int, list[int]] = defaultdict(list)
    for post in scanned:
        groups[union.find(post.id)].append(post.id)
    bursts = []
    for ids in groups.values():
        if len(ids) < 2:
            continue
        burst = Burst(post_ids=ids, reasons={i: reasons.get(i, THREAD) for i in ids})
        burst.hot_posts = sum(1 for i in ids if hot_by_post[i])
        bursts.append(burst)
    return bursts, terms


def qualifies(burst: Burst, posts: dict[int, Post], config: DetectConfig) -> bool:
    """Whether a group is big, varied and bursty enough to open an incident of its own."""
    members = [posts[i] for i in burst.post_ids if posts[i].member]
    return (
        len(members) >= config.min_members
        and len({p.author for p in members}) >= config.min_authors
        and burst.hot_posts >= config.min_term_authors
    )


def title_terms(
    members: Sequence[Post],
    terms: dict[int, dict[str, str]],
    background: Sequence[Post],
    config: DetectConfig,
) -> list[str]:
    """The incident's top terms: used by several of its authors and rare elsewhere.

    Each term scores the number of distinct member authors using it times its inverse document
    frequency among the `background` posts; only terms that at least `title_min_authors`
    different authors used qualify, so no one person's words make the title.
    """
    authors: dict[str, set[str]] = defaultdict(set)
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for post in members:
        for key, word in terms.get(post.id, {}).items():
            authors[key].add(post.author)
            surface[key][word] += 1
    frequency: Counter[str] = Counter()
    for post in background:
        frequency.update(terms.get(post.id, {}).keys())
    total = len(background)
    scored = [
        (len(who) * math.log((total + 1) / (frequency[key] + 1)), key)
        for key, who in authors.items()
        if len(who) >= config.title_min_authors
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [surface[key].most_common(1)[0][0] for _, key in scored[: config.title_terms]]


def peak_hour(times: Iterable[datetime]) -> datetime | None:
    """The start of the hour with the most members (the earliest on a tie)."""
    hours = Counter(t.replace(minute=0, second=0, microsecond=0) for t in times)
    if not hours:
        return None
    return min(hours, key=lambda hour: (-hours[hour], hour))

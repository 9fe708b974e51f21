"""A query matched in memory against one mention, the way `listener.query.sql` matches rows.

The poll path uses it to apply a source's keep-filter before anything is stored; the property
test holds it to the SQL compiler's results on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from listener.kit.folding import ascii_lower, folded_words
from listener.query.ast import And, Field, Near, Node, Not, Term


@dataclass(frozen=True)
class MentionFacts:
    """What a query can see of a mention; unknown values are None (or empty)."""

    text: str
    created_at: datetime
    platform: str = ""
    language: str | None = None
    source_id: int | None = None
    source_name: str | None = None
    author_handle: str | None = None
    author_followers: int | None = None
    sentiment: str | None = None
    intents: tuple[str, ...] = field(default_factory=tuple)
    topics: tuple[str, ...] = field(default_factory=tuple)

    @cached_property
    def words(self) -> list[str]:
        """The folded words of the text."""
        return folded_words(self.text)


def _starts(words: Sequence[str], at: int, term: Term) -> bool:
    size = len(term.words)
    if at + size > len(words):
        return False
    for i, wanted in enumerate(term.words):
        word = words[at + i]
        last = i == size - 1
        if not (word.startswith(wanted) if last and term.prefix else word == wanted):
            return False
    return True


def _spans(words: Sequence[str], term: Term) -> list[tuple[int, int]]:
    """(first, last) word index of each place the term occurs."""
    size = len(term.words)
    return [(i, i + size - 1) for i in range(len(words)) if _starts(words, i, term)]


def _near(words: Sequence[str], node: Near) -> bool:
    lefts, rights = _spans(words, node.left), _spans(words, node.right)
    gap = node.distance - 1
    for l_first, l_last in lefts:
        for r_first, r_last in rights:
            if 0 <= r_first - l_last - 1 <= gap or 0 <= l_first - r_last - 1 <= gap:
                return True
    return False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(count: int, op: str, value: int) -> bool:
    return {
        ">": count > value,
        ">=": count >= value,
        "<": count < value,
        "<=": count <= value,
        "=": count == value,
    }[op]


def _field(node: Field, facts: MentionFacts) -> bool:
    value = node.value
    text = str(value)
    name = node.name
    if name == "author":
        if facts.author_handle is None:
            return False
        handle = ascii_lower(facts.author_handle).lstrip("@")
        return handle == text or handle.startswith(f"{text}@")
    if name == "platform":
        return ascii_lower(facts.platform) == text
    if name == "lang":
        if facts.language is None:
            return False
        language = ascii_lower(facts.language)
        return language == text or language.startswith(f"{text}-")
    if name == "source":
        if isinstance(value, int):
            return facts.source_id == value
        return facts.source_name is not None and ascii_lower(facts.source_name) == text
    if name == "sentiment":
        return facts.sentiment == text
    if name == "intent":
        return text in facts.intents
    if name == "topic":
        return any(ascii_lower(topic) == text for topic in facts.topics)
    if name == "has":
        lowered = ascii_lower(facts.text)
        return "http://" in lowered or "https://" in lowered
    if name == "followers":
        return (
            isinstance(value, int)
            and facts.author_followers is not None
            and _compare(facts.author_followers, node.op, value)
        )
    assert isinstance(value, datetime)
    if name == "after":
        return _aware(facts.created_at) >= value
    return _aware(facts.created_at) < value


def matches(node: Node, facts: MentionFacts) -> bool:
    """Whether the mention matches the query."""
    if isinstance(node, Term):
        return bool(_spans(facts.words, node))
    if isinstance(node, Near):
        return _near(facts.words, node)
    if isinstance(node, Field):
        return _field(node, facts)
    if isinstance(node, Not):
        return not matches(node.child, facts)
    if isinstance(node, And):
        return all(matches(child, facts) for child in node.children)
    return any(matches(child, facts) for child in node.children)

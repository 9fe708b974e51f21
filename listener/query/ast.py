"""The parsed form of a query: a small tree the SQL compiler and the in-memory matcher share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

#: Field prefixes and what each selects (the grammar, the docs and the errors read this).
FIELDS = {
    "author": "the author's handle, without @ (case-insensitive)",
    "platform": "the platform, e.g. mastodon",
    "lang": "the detected language, e.g. nl (nl also matches nl-BE)",
    "source": "the source, by id or name",
    "sentiment": "positive, neutral or negative",
    "intent": "a detected intent, e.g. complaint",
    "topic": "a topic of the taxonomy, by name",
    "has": "has:link, the text holds a web address",
    "followers": "the author's followers, compared: followers:>1000, >=, <, <=, =",
    "after": "written on or after a date (UTC): after:2026-11-01",
    "before": "written before a date (UTC): before:2026-12-01",
}
SENTIMENTS = ("positive", "neutral", "negative")
COMPARISONS = (">=", "<=", ">", "<", "=")


@dataclass(frozen=True)
class Term:
    """Folded words that must follow each other in the text; `prefix`: the last may go on."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class Near:
    """Two terms at most `distance` words apart, in either order."""

    left: Term
    right: Term
    distance: int


@dataclass(frozen=True)
class Field:
    """A field prefix: `name` compared by `op` with `value` (normalised at parse time).

    Values: author, platform, lang, intent, topic: lower-case text; source: an id (int) or a
    lower-case name; sentiment: one of SENTIMENTS; has: "link"; followers: an int with `op`
    one of COMPARISONS; after, before: an aware UTC datetime.
    """

    name: str
    value: str | int | datetime
    op: str = "="
    column: int = field(default=1, compare=False)


@dataclass(frozen=True)
class Not:
    """Everything the child does not match."""

    child: Node


@dataclass(frozen=True)
class And:
    """All children match."""

    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]


Node = Term | Near | Field | Not | And | Or


def fields_used(node: Node) -> list[Field]:
    """Every field prefix in the query, in order."""
    if isinstance(node, Field):
        return [node]
    if isinstance(node, Not):
        return fields_used(node.child)
    if isinstance(node, And | Or):
        return [f for child in node.children for f in fields_used(child)]
    return []


def render(node: Node) -> str:
    """The query as text that parses back to the same tree (canonical spelling)."""
    if isinstance(node, Term):
        joined = " ".join(node.words)
        if len(node.words) == 1:
            return joined + ("*" if node.prefix else "")
        # A hyphenated word folds to the same words in order, and may end in a prefix.
        return "-".join(node.words) + "*" if node.prefix else f'"{joined}"'
    if isinstance(node, Near):
        return f"{render(node.left)} NEAR/{node.distance} {render(node.right)}"
    if isinstance(node, Field):
        value = node.value
        if isinstance(value, datetime):
            midnight = value.time() == time() and value.utcoffset() == timedelta()
            shown = value.date().isoformat() if midnight else value.isoformat()
        else:
            shown = str(value)
        if node.name == "followers":
            return f"followers:{node.op}{shown}"
        if any(c.isspace() for c in shown):
            shown = f'"{shown}"'
        return f"{node.name}:{shown}"
    if isinstance(node, Not):
        return f"NOT {_group(node.child)}"
    if isinstance(node, And):
        return " AND ".join(_group(c) for c in node.children)
    return " OR ".join(_group(c) for c in node.children)


def _group(node: Node) -> str:
    return f"({render(node)})" if isinstance(node, And | Or) else render(node)

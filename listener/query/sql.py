"""A query as a WHERE clause over `Mention`, with the same results on PostgreSQL and SQLite.

Words match the mention's `folded_text` (listener.kit.folding), which Python computed once, so
neither database's collation, `lower()` or accent handling takes part: a term is a LIKE on
" word ", a prefix on " word", a phrase on " word word ", and NEAR/n a regular expression that
both databases read the same way (PostgreSQL `~`, SQLite's REGEXP, which SQLAlchemy's SQLite
driver backs with Python's `re`). Field values are compared lower-cased in ASCII only, which
SQLite's `lower()` does and `translate()` spells on PostgreSQL. Every clause is true or false,
never NULL, so NOT means "everything else" exactly as the in-memory matcher reads it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    literal_column,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import func

from listener.models import Author, Mention, MentionTopic, Source, Topic
from listener.query.ast import And, Field, Near, Node, Not, Or, Term

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_GAP = "( [^ ]+)"


def _lower(dialect: str, value: Any) -> ColumnElement[Any]:
    """ASCII-only lower case, the same on both databases."""
    if dialect == "postgresql":
        return func.translate(value, _UPPER, _UPPER.lower())
    return func.lower(value)


def like_pattern(term: Term) -> str:
    """The LIKE pattern of a term over the folded text (words never hold % or _)."""
    return "% " + " ".join(term.words) + ("%" if term.prefix else " %")


def _term_regex(term: Term) -> str:
    return " ".join(term.words) + ("[^ ]*" if term.prefix else "")


def near_regex(node: Near) -> str:
    """A regular expression over the folded text: both terms, at most n words apart."""
    gap = f"{_GAP}{{0,{node.distance - 1}}}" if node.distance > 1 else ""
    left, right = _term_regex(node.left), _term_regex(node.right)
    return f" {left}{gap} {right} | {right}{gap} {left} "


def _json_contains(dialect: str, column: Any, value: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return and_(column.is_not(None), type_coerce(column, JSONB).contains([value]))
    each = func.json_each(column).table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == value))


# Subqueries read their own aliases: the caller's statement may join authors or sources itself
# (the queue list does), and those must not be correlated away.
_AUTHOR = aliased(Author, name="query_author")
_SOURCE = aliased(Source, name="query_source")
_TOPIC = aliased(Topic, name="query_topic")
_MENTION_TOPIC = aliased(MentionTopic, name="query_mention_topic")


def _author(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(_AUTHOR.id).where(_AUTHOR.id == Mention.author_id, condition).correlate(Mention)
    )


def _field(node: Field, dialect: str) -> ColumnElement[bool]:
    value = node.value
    name = node.name
    if name == "author":
        handle = func.ltrim(_lower(dialect, _AUTHOR.handle), "@")
        text = str(value)
        local = func.substr(handle, 1, len(text) + 1) == f"{text}@"
        return _author(and_(_AUTHOR.handle.is_not(None), or_(handle == text, local)))
    if name == "platform":
        return _lower(dialect, Mention.platform) == value
    if name == "lang":
        text = str(value)
        language = _lower(dialect, Mention.language)
        return and_(
            Mention.language.is_not(None),
            or_(language == text, func.substr(language, 1, len(text) + 1) == f"{text}-"),
        )
    if name == "source":
        if isinstance(value, int):
            return Mention.source_id == value
        return exists(
            select(_SOURCE.id)
            .where(_SOURCE.id == Mention.source_id, _lower(dialect, _SOURCE.name) == value)
            .correlate(Mention)
        )
    if name == "sentiment":
        return and_(Mention.sentiment_label.is_not(None), Mention.sentiment_label == value)
    if name == "intent":
        return _json_contains(dialect, Mention.intents, str(value))
    if name == "topic":
        return exists(
            select(_MENTION_TOPIC.mention_id)
            .join(_TOPIC, _TOPIC.id == _MENTION_TOPIC.topic_id)
            .where(_MENTION_TOPIC.mention_id == Mention.id, _lower(dialect, _TOPIC.name) == value)
            .correlate(Mention)
        )
    if name == "has":
        lowered = _lower(dialect, Mention.text)
        return or_(lowered.like("%http://%"), lowered.like("%https://%"))
    if name == "followers":
        count = _AUTHOR.followers
        compared = {
            ">": count > value,
            ">=": count >= value,
            "<": count < value,
            "<=": count <= value,
            "=": count == value,
        }[node.op]
        return _author(and_(count.is_not(None), compared))
    assert isinstance(value, datetime)
    if name == "after":
        return Mention.created_at >= value
    return Mention.created_at < value


def where_clause(node: Node, *, dialect: str) -> ColumnElement[bool]:
    """The query as a WHERE clause over `Mention` ('postgresql' or 'sqlite')."""
    if isinstance(node, Term):
        return Mention.folded_text.like(like_pattern(node))
    if isinstance(node, Near):
        return Mention.folded_text.regexp_match(near_regex(node))
    if isinstance(node, Field):
        return _field(node, dialect)
    if isinstance(node, Not):
        return not_(where_clause(node.child, dialect=dialect))
    if isinstance(node, And):
        return and_(*(where_clause(child, dialect=dialect) for child in node.children))
    if isinstance(node, Or):
        return or_(*(where_clause(child, dialect=dialect) for child in node.children))
    return false()  # pragma: no cover - every node kind is handled above

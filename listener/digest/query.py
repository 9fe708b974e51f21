"""SQL building blocks shared by the digest sections and the spike check, portable across
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Text,
    case,
    cast,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler

from listener.models import Author, Mention, MentionTopic, Source, Topic
from listener.models.privacy import ERASED_PREFIX
from listener.own_accounts import not_by_us
from listener.query import parse, where_clause

# Statuses in which a mention still waits for the team.
WAITING_STATUSES = ("new", "open", "escalated", "snoozed")
RESPONDED_STATUSES = ("answered", "resolved")


@dataclass(frozen=True)
class MentionFilter:
    """Which mentions a digest or alert covers; empty tuples mean everything."""

    topics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    # A query (docs/QUERY.md) the mentions must match too; "" means no query.
    query: str = ""

    @classmethod
    def of(
        cls,
        *,
        topics: Sequence[str] = (),
        sources: Sequence[str] = (),
        languages: Sequence[str] = (),
        query: str | None = None,
    ) -> MentionFilter:
        """A filter from plain lists (sorted) and a query (runs of whitespace made one space),
        so equal filters compare equal."""
        return cls(
            tuple(sorted(set(topics))),
            tuple(sorted(set(sources))),
            tuple(sorted(set(languages))),
            " ".join((query or "").split()),
        )

    def as_dict(self) -> dict[str, Any]:
        """The filter as stored and shown (`query` only when there is one, so filters stored
        before queries existed keep their digest keys)."""
        shown: dict[str, Any] = {
            "topics": list(self.topics),
            "sources": list(self.sources),
            "languages": list(self.languages),
        }
        if self.query:
            shown["query"] = self.query
        return shown

    def conditions(self) -> list[ColumnElement[bool]]:
        """WHERE conditions on `Mention` for this filter.

        Our own accounts' posts are never part of what is heard (volume, reach, loyal voices,
        questions, spikes): the digest reports them as our responses instead.
        """
        conds: list[ColumnElement[bool]] = [not_by_us()]
        if self.sources:
            # A name matches a source by its name, or every source of a platform by the platform.
            by_name = select(Source.id).where(Source.name.in_(self.sources))
            conds.append(or_(Mention.source_id.in_(by_name), Mention.platform.in_(self.sources)))
        if self.languages:
            conds.append(Mention.language.in_(self.languages))
        if self.topics:
            # An alias, so queries that already join mention_topics still correlate on Mention.
            tagged = aliased(MentionTopic)
            topic_ids = select(Topic.id).where(Topic.name.in_(self.topics))
            conds.append(
                exists().where(tagged.mention_id == Mention.id, tagged.topic_id.in_(topic_ids))
            )
        if self.query:
            conds.append(MatchesQuery(self.query))
        return conds


class MatchesQuery(ColumnElement[bool]):
    """Whether a mention matches a query (docs/QUERY.md), compiled for the statement's backend.

    The query's SQL differs a little between PostgreSQL and SQLite (listener.query.sql), and
    `MentionFilter.conditions()` is built before any session is at hand, so the backend is
    chosen when the statement is compiled. The text is parsed here, so an unreadable query
    fails where the filter is made, not inside a statement.
    """

    type = Boolean()
    # Its SQL depends on the dialect and its text; not cached, so no compiled form is reused.
    inherit_cache = False

    def __init__(self, text: str) -> None:
        self.text = text
        self.node = parse(text)

    @property
    def _from_objects(self) -> list[Any]:
        return [Mention.__table__]


@compiles(MatchesQuery)
def _compile_matches_query(element: MatchesQuery, compiler: SQLCompiler, **kw: Any) -> str:
    clause = where_clause(element.node, dialect=compiler.dialect.name)
    # Parenthesised: it stands beside other conditions, whatever its own ORs.
    return f"({compiler.process(clause, **kw)})"


def within(start: datetime, end: datetime, filt: MentionFilter) -> list[ColumnElement[bool]]:
    """Mentions created in [start, end) that pass `filt`."""
    return [Mention.created_at >= start, Mention.created_at < end, *filt.conditions()]


def quotable() -> ColumnElement[bool]:
    """A mention the digest may quote as an example.

    Not one gone from its platform (its words were dropped) and not an erasure's tombstone
    (no words, no link). Both still count in every number: only the quotes leave them out.
    """
    return Mention.deleted_at_source.is_(None) & ~Mention.external_id.startswith(ERASED_PREFIX)


def named_author() -> ColumnElement[bool]:
    """An author the digest may name: not an erased person's pseudonymised record."""
    return ~Author.platform_id.startswith(ERASED_PREFIX)


def bucket(column: Any, boundaries: Sequence[datetime]) -> ColumnElement[int]:
    """Index i with boundaries[i] <= column < boundaries[i+1] (the caller bounds the range).

    Explicit UTC boundaries keep local days right across DST on both backends; neither
    date_trunc nor strftime knows the period's time zone on SQLite.
    """
    return case(*[(column < b, i) for i, b in enumerate(boundaries[1:])], else_=None)


def engagement(model: type[Mention] = Mention) -> ColumnElement[int]:
    """Likes + reposts + replies, treating missing counts as zero."""
    return (
        func.coalesce(model.likes, 0)
        + func.coalesce(model.reposts, 0)
        + func.coalesce(model.replies, 0)
    )


def has_intent(intent: str, dialect: str) -> ColumnElement[bool]:
    """Whether the mention's intents (a JSON list of plain words) include `intent`."""
    if dialect == "postgresql":
        return type_coerce(Mention.intents, JSONB).contains([intent])
    # SQLite keeps JSON as text: the quoted word can only be a whole list item.
    return cast(Mention.intents, Text).like(f'%"{intent}"%')


def seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """later - earlier in seconds."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def epoch_hour(column: Any, dialect: str) -> ColumnElement[int]:
    """Whole hours since 1970-01-01 UTC."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / 3600), Integer)
    return cast(cast(func.strftime("%s", column), Integer) / 3600, Integer)


def dialect_of(session: AsyncSession) -> str:
    """The database backend's name: postgresql or sqlite."""
    return session.get_bind().dialect.name


def share(part: float, whole: float) -> float | None:
    """part / whole rounded to 4 places, None when whole is zero."""
    return round(part / whole, 4) if whole else None


def change(current: float, previous: float) -> float | None:
    """Relative change from previous to current, None when previous is zero."""
    return round((current - previous) / previous, 4) if previous else None


def excerpt(text: str, limit: int = 280) -> str:
    """Text on one line, cut at a word boundary near `limit`."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"

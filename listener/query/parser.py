"""Reading a query: a lark grammar, and errors that name the column and what was expected.

The grammar, loosest binding first: `OR`, then `AND` (or nothing between two terms), then
`NOT` / `-`, then a group, `a NEAR/n b`, a field prefix or a term. Operators are upper-case;
`and`, `or` and `not` in lower case are words like any other.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from listener.errors import LuisterError
from listener.kit.folding import ascii_lower, folded_words
from listener.query.ast import (
    COMPARISONS,
    FIELDS,
    SENTIMENTS,
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Term,
)

MAX_QUERY_LENGTH = 2_000
MAX_NEAR = 50
_MAX_FOLLOWERS = 2**31 - 1
_FIELD_NAMES = "|".join(FIELDS)
# An operator or keyword only counts as one when a space, a bracket or the end follows it.
_END = r"(?![^\s()\"])"

GRAMMAR = rf"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: unary (_AND? unary)*
?unary: _NOT unary -> negation
      | _MINUS unary -> negation
      | atom
?atom: _LPAR or_expr _RPAR
     | near
     | field
     | text
near: text NEAR text
field: FIELD (WORD | PHRASE)
text: WORD | PHRASE

NEAR.4: /NEAR\/\d+{_END}/
_AND.3: /AND{_END}/
_OR.3: /OR{_END}/
_NOT.3: /NOT{_END}/
FIELD.3: /(?i:{_FIELD_NAMES}):/
_MINUS.2: /-(?=[^\s)])/
WORD: /[^\s()"\-][^\s()"]*/
PHRASE: /"[^"]*"/
_LPAR: "("
_RPAR: ")"
%ignore /\s+/
"""

_EXPECTED_NAMES = {
    "WORD": "a word",
    "PHRASE": 'a "phrase"',
    "FIELD": "a field such as lang:",
    "_LPAR": "'('",
    "LPAR": "'('",
    "_RPAR": "')'",
    "RPAR": "')'",
    "_NOT": "NOT",
    "_MINUS": "'-'",
    "_AND": "AND",
    "_OR": "OR",
    "NEAR": "NEAR/n",
    "$END": "the end of the query",
}
# The order an error lists what it expected in: values first, then operators.
_EXPECTED_ORDER = list(_EXPECTED_NAMES)
_UNKNOWN_FIELD = re.compile(r"^([A-Za-z]+):([^/].*)$")
_AFTER_FIELD = re.compile(rf"(?i:({_FIELD_NAMES})):\s*$")
_FOLLOWERS = re.compile(r"^(>=|<=|>|<|=)?(\d{1,12})$")


class QuerySyntaxError(LuisterError):
    """A query that cannot be read: where (line, column) and what was expected there."""

    status = 422
    type_slug = "invalid-query"
    title = "The query cannot be read"

    def __init__(
        self, message: str, *, field: str, column: int, line: int = 1, expected: list[str]
    ) -> None:
        where = f"line {line}, column {column}" if line > 1 else f"column {column}"
        super().__init__(
            f"{field}: {where}: {message}",
            field=field,
            line=line,
            column=column,
            expected=expected,
        )
        self.field = field
        self.line = line
        self.column = column
        self.expected = expected
        self.message = message


class _Invalid(Exception):
    """Raised inside the transformer; turned into a QuerySyntaxError with the field's name."""

    def __init__(self, message: str, column: int, expected: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.expected = expected


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)


def _flatten(kind: type[And] | type[Or], items: list[Node]) -> Node:
    children: list[Node] = []
    for item in items:
        children.extend(item.children if isinstance(item, kind) else [item])
    return kind(tuple(children))


def _unquoted(token: Token) -> str:
    text = str(token)
    return text[1:-1] if token.type == "PHRASE" else text


def _column(token: Token) -> int:
    return int(token.column or 1)


class _ToTree(Transformer[Token, Node]):
    """Lark's parse tree to the query's nodes, checking every value on the way."""

    def or_expr(self, items: list[Node]) -> Node:
        return _flatten(Or, items)

    def and_expr(self, items: list[Node]) -> Node:
        return _flatten(And, items)

    def negation(self, items: list[Node]) -> Node:
        return Not(items[0])

    def text(self, items: list[Token]) -> Term:
        token = items[0]
        raw = _unquoted(token)
        prefix = False
        if token.type == "WORD":
            unknown = _UNKNOWN_FIELD.match(raw)
            if unknown and unknown.group(1).lower() not in FIELDS:
                names = ", ".join(f"{name}:" for name in FIELDS)
                raise _Invalid(
                    f"unknown field {unknown.group(1)}:; expected one of {names} "
                    '(put text with a colon in "quotes")',
                    _column(token),
                    [f"{name}:" for name in FIELDS],
                )
            prefix = raw.endswith("*")
            raw = raw.rstrip("*")
        words = tuple(folded_words(raw))
        if not words:
            raise _Invalid(
                f"expected a word with letters or digits, found {str(token)!r}",
                _column(token),
                ["a word"],
            )
        return Term(words, prefix)

    def near(self, items: list[Any]) -> Near:
        left, token, right = items
        distance = int(str(token).split("/", 1)[1])
        if not 1 <= distance <= MAX_NEAR:
            raise _Invalid(
                f"expected NEAR/1 to NEAR/{MAX_NEAR}, found {token!s}",
                _column(token),
                [f"NEAR/1 to NEAR/{MAX_NEAR}"],
            )
        return Near(left, right, distance)

    def field(self, items: list[Token]) -> Field:
        name_token, value_token = items
        name = str(name_token)[:-1].lower()
        return _field(name, _unquoted(value_token).strip(), _column(name_token), value_token)


def _field(name: str, raw: str, column: int, token: Token) -> Field:
    at = _column(token)
    if not raw:
        raise _Invalid(f"expected a value after {name}:", at, ["a value"])
    value = ascii_lower(raw)
    if name == "author":
        value = value.lstrip("@")
        if not value:
            raise _Invalid("expected a handle after author:", at, ["a handle"])
        return Field(name, value, column=column)
    if name in ("platform", "lang", "intent", "topic"):
        return Field(name, value, column=column)
    if name == "source":
        return Field(name, int(value) if value.isdigit() else value, column=column)
    if name == "sentiment":
        if value not in SENTIMENTS:
            raise _Invalid(
                f"expected {', '.join(SENTIMENTS)} after sentiment:, found {raw!r}",
                at,
                list(SENTIMENTS),
            )
        return Field(name, value, column=column)
    if name == "has":
        if value != "link":
            raise _Invalid(f"expected has:link, found has:{raw}", at, ["link"])
        return Field(name, value, column=column)
    if name == "followers":
        found = _FOLLOWERS.match(raw)
        if not found or int(found.group(2)) > _MAX_FOLLOWERS:
            raise _Invalid(
                f"expected a number of followers such as >1000 ({', '.join(COMPARISONS)}), "
                f"found {raw!r}",
                at,
                [f"{op}<number>" for op in COMPARISONS],
            )
        return Field(name, int(found.group(2)), op=found.group(1) or "=", column=column)
    return Field(name, _moment(name, raw, at), column=column)


def _moment(name: str, raw: str, at: int) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time with a zone (naive means UTC)."""
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _Invalid(
            f"expected a date such as {name}:2026-11-01, found {raw!r}", at, ["YYYY-MM-DD"]
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _expected(names: set[str] | frozenset[str]) -> list[str]:
    known = [_EXPECTED_NAMES[n] for n in _EXPECTED_ORDER if n in names]
    return known or sorted(names)


def _listed(options: list[str]) -> str:
    if len(options) <= 1:
        return "".join(options)
    return ", ".join(options[:-1]) + " or " + options[-1]


def _syntax_error(text: str, exc: UnexpectedInput, *, field: str) -> QuerySyntaxError:
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        expected = _expected(exc.accepts or exc.expected)
        if token.type == "$END":
            offset, found = len(text.rstrip()), "the end of the query"
        else:
            offset, found = int(token.start_pos or 0), repr(str(token))
    else:
        offset = int(getattr(exc, "pos_in_stream", 0) or 0)
        allowed = exc.allowed if isinstance(exc, UnexpectedCharacters) else set()
        expected = _expected(allowed or set())
        found = repr(text[offset]) if offset < len(text) else "the end of the query"
    before = text[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    message = f"expected {_listed(expected)}, found {found}"
    after_field = _AFTER_FIELD.search(before)
    if after_field and set(expected) <= {"a word", 'a "phrase"'}:
        message = f"expected a value after {after_field.group(1).lower()}:, found {found}"
    return QuerySyntaxError(message, field=field, line=line, column=column, expected=expected)


def parse(text: str, *, field: str = "query") -> Node:
    """The query's tree; QuerySyntaxError names `field`, the column and what was expected."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"a query has at most {MAX_QUERY_LENGTH} characters, this one {len(text)}",
            field=field,
            column=MAX_QUERY_LENGTH + 1,
            expected=["a shorter query"],
        )
    if not text.strip():
        raise QuerySyntaxError(
            "expected a word, a field or '(', found an empty query",
            field=field,
            column=1,
            expected=["a word", "a field such as lang:", "'('"],
        )
    try:
        tree = _parser().parse(text)
        return _ToTree().transform(tree)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc, field=field) from None
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _Invalid):
            raise QuerySyntaxError(
                inner.message, field=field, column=inner.column, expected=inner.expected
            ) from None
        raise


def check(text: str, *, field: str = "query", allowed: set[str] | None = None) -> Node:
    """Parse, and refuse field prefixes outside `allowed` (when given), naming their column."""
    node = parse(text, field=field)
    if allowed is not None:
        from listener.query.ast import fields_used

        for used in fields_used(node):
            if used.name not in allowed:
                raise QuerySyntaxError(
                    f"{used.name}: cannot be used here; expected one of "
                    + ", ".join(f"{name}:" for name in FIELDS if name in allowed),
                    field=field,
                    column=used.column,
                    expected=[f"{name}:" for name in FIELDS if name in allowed],
                )
    return node


def readable_query(value: str | None) -> str | None:
    """A schema field's query as given, None when blank; an unreadable one raises ValueError
    (pydantic's 422) naming its column and what was expected there."""
    if value is None or not value.strip():
        return None
    try:
        parse(value, field="query")
    except QuerySyntaxError as exc:
        raise ValueError(exc.detail) from None
    return value

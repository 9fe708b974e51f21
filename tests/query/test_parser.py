"""Reading queries: what they mean, and errors that say where and what was expected."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from listener.query import QuerySyntaxError, parse, render
from listener.query.ast import And, Field, Near, Not, Or, Term


def test_operators_bind_as_documented() -> None:
    assert parse("a b OR c") == Or((And((Term(("a",)), Term(("b",)))), Term(("c",))))
    assert parse("a AND (b OR NOT c)") == And((Term(("a",)), Or((Term(("b",)), Not(Term(("c",)))))))
    assert parse('-"Fiëts pad" fiets*') == And(
        (Not(Term(("fiets", "pad"))), Term(("fiets",), prefix=True))
    )
    # Lower-case operators and words that merely start with one are words.
    assert parse("ANDROID and ORACLE") == And(
        (Term(("android",)), Term(("and",)), Term(("oracle",)))
    )
    assert parse("e-mail* NEAR/3 Straße") == Near(
        Term(("e", "mail"), prefix=True), Term(("strasse",)), 3
    )


def test_fields_are_read_and_normalised() -> None:
    assert parse("followers:>=1000") == Field("followers", 1000, ">=")
    assert parse("followers:5") == Field("followers", 5, "=")
    assert parse("after:2026-11-01") == Field("after", datetime(2026, 11, 1, tzinfo=UTC))
    assert parse("before:2026-11-01T10:00:00+01:00") == Field(
        "before", datetime(2026, 11, 1, 9, tzinfo=UTC)
    )
    assert parse("Author:@Jan") == Field("author", "jan")
    assert parse("source:12") == Field("source", 12)
    assert parse('topic:"Openbaar Vervoer"') == Field("topic", "openbaar vervoer")
    query = 'lang:nl -sentiment:negative (intent:complaint OR has:link) topic:"openbaar vervoer"'
    assert parse(render(parse(query))) == parse(query)


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("(storing AND lang:", 19, "expected a value after lang:, found the end of the query"),
        ("((a)", 5, "expected ')', found the end of the query"),
        ("a OR OR b", 6, "expected a word, a \"phrase\", a field such as lang:, '(', NOT or '-'"),
        ("fiets NEAR/0 pad", 7, "expected NEAR/1 to NEAR/50, found NEAR/0"),
        ("fiets NEAR/2 lang:nl", 14, "expected a word or a \"phrase\", found 'lang:'"),
        ("sentiment:boos", 11, "expected positive, neutral, negative after sentiment:"),
        ("followers:veel", 11, "expected a number of followers such as >1000"),
        ("after:2026-13-01", 7, "expected a date such as after:2026-11-01"),
        ("taal:nl", 1, "unknown field taal:; expected one of author:, platform:"),
        ("has:photo", 5, "expected has:link, found has:photo"),
        ('a "', 3, "expected"),
        ("   ", 1, "expected a word, a field or '(', found an empty query"),
    ],
)
def test_errors_name_the_column_and_what_was_expected(
    query: str, column: int, message: str
) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    error = caught.value
    assert (error.line, error.column) == (1, column)
    assert error.detail.startswith(f"query: column {column}: {message}")
    assert error.expected
    assert error.status == 422


def test_an_error_on_a_later_line_names_the_line() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse("storing\nAND (", field="keep")
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert caught.value.detail.startswith("keep: line 2, column 6: expected")


def test_the_cli_refuses_a_query_it_cannot_read_with_exit_code_2() -> None:
    done = CliRunner().invoke(app, ["export", "--query", "(storing AND lang:"])
    assert done.exit_code == 2
    assert "--query: column 19: expected a value after lang:" in done.output
